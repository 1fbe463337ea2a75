package auth

import (
	"context"
	"time"
)

// Locker holds named locks that expire by themselves.
type Locker interface {
	// Lock takes name for ttl if it is free. ok is false when another holder
	// has it. unlock releases it only if it is still ours.
	Lock(ctx context.Context, name string, ttl time.Duration) (unlock func(context.Context) error, ok bool, err error)
}
