package redisstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"authfn/pkg/auth"
)

func (s *Store) throttleKey(key string) string { return s.prefix + "{t:" + key + "}" }

// Attempt counts one attempt at now under each of counts' keys unless one
// of them is locked, in one script: the checks and the counts are one
// step. A key's count is forgotten when its previous attempt is more than
// its policy's Window before now. The attempt that brings a count to Max
// (at least 1) or beyond locks that key until now + min(BaseLock·2^(count−Max),
// MaxLock). A key expires by itself after max(Window, its lock). It returns
// the rest of the first running lock (and counts nothing), or 0 and the
// lock this attempt started under each key, to the microsecond.
//
// On a cluster the keys are in different slots, which one script may not
// touch: each key is counted in turn, in its own script, and when one is
// locked the attempts already counted are given back, so that the outcome
// is the same, in one round trip per key. Returns CodeUnavailable when
// Redis is down.
func (s *Store) Attempt(ctx context.Context, now time.Time, counts ...auth.ThrottleCount) (time.Duration, []time.Duration, error) {
	if !s.cluster || len(counts) == 1 {
		return s.attempt(ctx, now, counts)
	}
	started := make([]time.Duration, len(counts))
	for i := range counts {
		wait, lock, err := s.attempt(ctx, now, counts[i:i+1])
		if err != nil || wait > 0 {
			back := make([]auth.ThrottleRelease, i)
			for j := range back {
				back[j] = auth.ThrottleRelease{Key: counts[j].Key, Started: started[j]}
			}
			_ = s.Release(context.WithoutCancel(ctx), now, back...)
			return wait, nil, err
		}
		started[i] = lock[0]
	}
	return 0, started, nil
}

// attempt runs attemptScript on counts' keys, which must share a slot
// unless the server is not a cluster.
func (s *Store) attempt(ctx context.Context, now time.Time, counts []auth.ThrottleCount) (time.Duration, []time.Duration, error) {
	if len(counts) == 0 {
		return 0, nil, nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	keys := make([]string, len(counts))
	args := make([]any, 1, 1+4*len(counts))
	args[0] = micros(now)
	for i, c := range counts {
		keys[i] = s.throttleKey(c.Key)
		p := c.Policy
		args = append(args, p.Window.Microseconds(), max(p.Max, 1), p.BaseLock.Microseconds(), p.MaxLock.Microseconds())
	}
	v, err := attemptScript.Run(ctx, s.c, keys, args...).Int64Slice()
	if err != nil {
		return 0, nil, s.fail("attempt", err)
	}
	switch {
	case len(v) == 1 && v[0] > 0:
		return time.Duration(v[0]) * time.Microsecond, nil, nil
	case len(v) != 1+len(counts) || v[0] != 0:
		return 0, nil, errors.New("redisstore: attempt: malformed reply")
	}
	started := make([]time.Duration, len(counts))
	for i := range started {
		started[i] = time.Duration(v[i+1]) * time.Microsecond
	}
	return 0, started, nil
}

// Release gives back attempts made at now, in one script (one round trip
// per key on a cluster): a Forget release deletes its key's count and
// lock; any other takes back one attempt and lifts the lock it started if
// that lock is still the one in force. Returns CodeUnavailable when Redis
// is down.
func (s *Store) Release(ctx context.Context, now time.Time, rs ...auth.ThrottleRelease) error {
	if !s.cluster || len(rs) <= 1 {
		return s.release(ctx, now, rs)
	}
	var first error
	for i := range rs {
		if err := s.release(ctx, now, rs[i:i+1]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *Store) release(ctx context.Context, now time.Time, rs []auth.ThrottleRelease) error {
	if len(rs) == 0 {
		return nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	keys := make([]string, len(rs))
	args := make([]any, len(rs))
	for i, r := range rs {
		keys[i] = s.throttleKey(r.Key)
		switch {
		case r.Forget:
			args[i] = "forget"
		case r.Started > 0:
			args[i] = strconv.FormatInt(micros(now)+r.Started.Microseconds(), 10)
		default:
			args[i] = ""
		}
	}
	return s.fail("release", releaseScript.Run(ctx, s.c, keys, args...).Err())
}
