package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"authfn/pkg/auth"
)

func (s *Store) throttleKey(key string) string { return s.prefix + "{t:" + key + "}" }

// Locked returns the longest lock among keys still running at now, or 0.
// The keys may live in different Cluster slots; they are read in one
// pipeline. Returns CodeUnavailable when Redis is down.
func (s *Store) Locked(ctx context.Context, now time.Time, keys ...string) (time.Duration, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HGet(ctx, s.throttleKey(k), "until")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, s.fail("locked", err)
	}
	var longest int64
	for _, c := range cmds {
		until, err := c.Int64()
		if err != nil {
			continue // no such key, or no lock yet
		}
		longest = max(longest, until-micros(now))
	}
	return time.Duration(longest) * time.Microsecond, nil
}

// Fail counts one failure for key at now in one script. The count is
// forgotten when the previous failure is more than p.Window before now. Once
// the count reaches p.Max (at least 1), the key is locked until now +
// min(p.BaseLock·2^(count−p.Max), p.MaxLock); a lock already running longer
// is kept. The key expires by itself after max(p.Window, the lock). It
// returns the count and the lock it set (0 if none), to the microsecond.
// Returns CodeUnavailable when Redis is down.
func (s *Store) Fail(ctx context.Context, key string, p auth.ThrottlePolicy, now time.Time) (int, time.Duration, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	v, err := failScript.Run(ctx, s.c, []string{s.throttleKey(key)},
		micros(now), p.Window.Microseconds(), max(p.Max, 1), p.BaseLock.Microseconds(), p.MaxLock.Microseconds(),
	).Int64Slice()
	if err != nil {
		return 0, 0, s.fail("fail", err)
	}
	if len(v) != 2 {
		return 0, 0, errors.New("redisstore: fail: malformed reply")
	}
	return int(v[0]), time.Duration(v[1]) * time.Microsecond, nil
}

// Reset forgets key's failures and lock. Returns CodeUnavailable when Redis
// is down.
func (s *Store) Reset(ctx context.Context, key string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.fail("reset", s.c.Del(ctx, s.throttleKey(key)).Err())
}
