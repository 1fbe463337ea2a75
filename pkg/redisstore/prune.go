package redisstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"authfn/pkg/auth"
)

const (
	// pruneBatch bounds every pruning command: no ZREM, ZRANGE or pipeline
	// touches more members than this, so pruning a huge index never blocks
	// Redis for long.
	pruneBatch = 500
	// orphanMinAge spares young index entries from the orphan walk.
	// CreateSession writes the index entry before the session hash, in
	// another slot; for that moment the entry looks orphaned and must not
	// be removed. Five minutes is far more than the two timeouts between the
	// two writes, and covers some clock skew between instances.
	orphanMinAge = 5 * time.Minute
	// pruneMargin is how much of the caller's deadline pruning leaves
	// unused, so that it can report what it did before the deadline.
	pruneMargin = time.Second
)

// PruneSessions removes global index entries of expired sessions, entries
// of users with no live session, and entries whose session hash is gone
// (orphans: left by a failed CreateSession, a revocation whose index
// update failed, or an evicted key). It works in batches of at most 500
// members and stops when less than a second (or half of a shorter budget)
// of ctx's deadline is left, returning Complete=false; the orphan walk
// resumes where it stopped at the next call. Entries created less than five
// minutes before now are never taken for orphans. Returns CodeUnavailable
// when Redis is down, with the counts of what was removed before.
func (s *Store) PruneSessions(ctx context.Context, now time.Time) (auth.PruneResult, error) {
	var res auth.PruneResult
	stop := budget(ctx)
	at := strconv.FormatInt(micros(now), 10)

	for b := range s.buckets {
		for {
			if stop() {
				return res, nil
			}
			n, err := s.pruneByScore(ctx, []string{s.expiryKey(b), s.createdKey(b)}, at)
			res.ExpiredIndexEntries += n
			if err != nil {
				return res, err
			}
			if n < pruneBatch {
				break
			}
		}
	}
	for b := range s.buckets {
		for {
			if stop() {
				return res, nil
			}
			n, err := s.pruneByScore(ctx, []string{s.usersKey(b)}, at)
			res.ExpiredUserEntries += n
			if err != nil {
				return res, err
			}
			if n < pruneBatch {
				break
			}
		}
	}
	for b := range s.buckets {
		done, err := s.pruneOrphans(ctx, b, micros(now.Add(-orphanMinAge)), stop, &res)
		if err != nil || !done {
			return res, err
		}
	}
	res.Complete = true
	return res, nil
}

// budget returns a function that says when pruning should stop: when ctx
// is done or its deadline is within the margin.
func budget(ctx context.Context) func() bool {
	deadline, ok := ctx.Deadline()
	if !ok {
		return func() bool { return ctx.Err() != nil }
	}
	margin := min(pruneMargin, time.Until(deadline)/2)
	return func() bool { return ctx.Err() != nil || time.Until(deadline) < margin }
}

// pruneByScore removes one batch of members scored at or before at from
// keys (one slot), by the scores of the first key.
func (s *Store) pruneByScore(ctx context.Context, keys []string, at string) (int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	n, err := pruneScoreScript.Run(ctx, s.c, keys, at, pruneBatch).Int64()
	return n, s.fail("prune sessions", err)
}

// pruneOrphans walks one bucket's creation index from its saved cursor to
// the end, a batch at a time, and removes entries whose session hash no
// longer exists. Entries created after youngest are skipped. It reports
// whether it reached the end.
func (s *Store) pruneOrphans(ctx context.Context, b int, youngest int64, stop func() bool, res *auth.PruneResult) (bool, error) {
	cursor, err := s.orphanCursor(ctx, b)
	if err != nil {
		return false, err
	}
	for {
		if stop() {
			return false, nil
		}
		next, removed, err := s.pruneOrphanBatch(ctx, b, cursor, youngest)
		res.OrphanedIndexEntries += removed
		if err != nil || next == "" {
			return err == nil, err
		}
		cursor = next
	}
}

func (s *Store) orphanCursor(ctx context.Context, b int) (string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	c, err := s.c.Get(ctx, s.cursorKey(b)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", s.fail("prune sessions: cursor", err)
	}
	if _, _, _, ok := parseMember(c); !ok {
		return "", nil
	}
	return c, nil
}

// pruneOrphanBatch examines one batch after cursor and returns where the
// next batch starts ("" at the end, where the walk starts over next time).
func (s *Store) pruneOrphanBatch(ctx context.Context, b int, cursor string, youngest int64) (string, int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	start := "-"
	if cursor != "" {
		start = "(" + cursor
	}
	ms, err := s.c.ZRangeByLex(ctx, s.createdKey(b), &redis.ZRangeBy{Min: start, Max: "+", Count: pruneBatch}).Result()
	if err != nil {
		return "", 0, s.fail("prune sessions: orphans", err)
	}
	var orphans []any
	exists := make([]*redis.IntCmd, len(ms))
	_, err = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range ms {
			created, uid, sid, ok := parseMember(m)
			switch {
			case !ok:
				orphans = append(orphans, m) // not ours: nothing can ever list it
			case created <= youngest:
				exists[i] = p.Exists(ctx, s.sessionKey(uid, sid))
			}
		}
		return nil
	})
	if err != nil {
		return "", 0, s.fail("prune sessions: orphans", err)
	}
	for i, e := range exists {
		if e != nil && e.Val() == 0 {
			orphans = append(orphans, ms[i])
		}
	}
	next := ""
	if len(ms) == pruneBatch {
		next = ms[len(ms)-1]
	}
	if len(orphans) == 0 && next == cursor {
		return next, 0, nil
	}
	_, err = pruneOrphansScript.Run(ctx, s.c,
		[]string{s.createdKey(b), s.expiryKey(b), s.cursorKey(b)},
		append([]any{next}, orphans...)...,
	).Result()
	if err != nil {
		return "", 0, s.fail("prune sessions: orphans", err)
	}
	return next, int64(len(orphans)), nil
}
