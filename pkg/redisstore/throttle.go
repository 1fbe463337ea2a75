package redisstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"authfn/pkg/auth"
)

func (s *Store) throttleKey(key string) string { return s.prefix + "{t:" + key + "}" }

// Attempt counts one attempt for key at now unless the key is locked, in
// one script. The count is forgotten when the previous attempt is more
// than p.Window before now. The attempt that brings the count to p.Max (at
// least 1) or beyond locks the key until now + min(p.BaseLock·2^(count−p.Max),
// p.MaxLock). The key expires by itself after max(p.Window, the lock). It
// returns the rest of a running lock, or 0 and the lock this attempt
// started, to the microsecond. Returns CodeUnavailable when Redis is down.
func (s *Store) Attempt(ctx context.Context, key string, p auth.ThrottlePolicy, now time.Time) (time.Duration, time.Duration, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	v, err := attemptScript.Run(ctx, s.c, []string{s.throttleKey(key)},
		micros(now), p.Window.Microseconds(), max(p.Max, 1), p.BaseLock.Microseconds(), p.MaxLock.Microseconds(),
	).Int64Slice()
	if err != nil {
		return 0, 0, s.fail("attempt", err)
	}
	if len(v) != 2 {
		return 0, 0, errors.New("redisstore: attempt: malformed reply")
	}
	return time.Duration(v[0]) * time.Microsecond, time.Duration(v[1]) * time.Microsecond, nil
}

// Refund takes back one attempt of key made at now, and lifts the lock it
// started if that lock is still the one in force. Returns CodeUnavailable
// when Redis is down.
func (s *Store) Refund(ctx context.Context, key string, now time.Time, started time.Duration) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	until := ""
	if started > 0 {
		until = strconv.FormatInt(micros(now)+started.Microseconds(), 10)
	}
	return s.fail("refund", refundScript.Run(ctx, s.c, []string{s.throttleKey(key)}, until).Err())
}

// Reset forgets key's attempts and lock. Returns CodeUnavailable when Redis
// is down.
func (s *Store) Reset(ctx context.Context, key string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.fail("reset", s.c.Del(ctx, s.throttleKey(key)).Err())
}
