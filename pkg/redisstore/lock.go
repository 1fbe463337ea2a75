package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"authfn/pkg/auth"
)

func (s *Store) lockKey(name string) string { return s.prefix + "{lock:" + name + "}" }

// Lock takes name for ttl if it is free (SET NX PX with a random token).
// ok is false when another holder has it. unlock releases the lock only if
// it still holds this token, so a holder whose lock expired cannot release
// the next holder's; unlock is bounded by the store's timeout and returns
// CodeUnavailable when Redis is down. Lock returns CodeInvalidRequest for a
// ttl under a millisecond (a lock must end by itself) and CodeUnavailable
// when Redis is down.
func (s *Store) Lock(ctx context.Context, name string, ttl time.Duration) (unlock func(context.Context) error, ok bool, err error) {
	if ttl < time.Millisecond {
		return nil, false, auth.Errorf(auth.CodeInvalidRequest, "A lock needs a lifetime of at least a millisecond.")
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, false, fmt.Errorf("redisstore: lock: %w", err)
	}
	token, key := hex.EncodeToString(b[:]), s.lockKey(name)
	ctx, cancel := s.bound(ctx)
	defer cancel()
	ok, err = s.c.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return nil, false, s.fail("lock", err)
	}
	if !ok {
		return nil, false, nil
	}
	unlock = func(ctx context.Context) error {
		ctx, cancel := s.bound(ctx)
		defer cancel()
		return s.fail("unlock", unlockScript.Run(ctx, s.c, []string{key}, token).Err())
	}
	return unlock, true, nil
}
