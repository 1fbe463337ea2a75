package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"authfn/pkg/auth"
)

// Key names, for tests that look at or damage what the store wrote.
var (
	SessionKeyOf   = (*Store).sessionKey
	HistoryKeyOf   = (*Store).historyKey
	UserIndexKeyOf = (*Store).userIndexKey
	CreatedKeyOf   = (*Store).createdKey
	ExpiryKeyOf    = (*Store).expiryKey
	UsersKeyOf     = (*Store).usersKey
)

// BucketCount is the number of global index buckets.
func (s *Store) BucketCount() int { return s.buckets }

// CreateSessionsBulk writes sessions exactly as CreateSession does, but
// many per pipeline, so that tests and benchmarks can build an index of a
// hundred thousand sessions in seconds. Each session's refresh hash is
// "rh-" + its id.
func (s *Store) CreateSessionsBulk(ctx context.Context, sessions []auth.Session) error {
	if err := createSessionScript.Load(ctx, s.c).Err(); err != nil {
		return err
	}
	// A few pipelines at once keep Redis busy while the client encodes.
	// Chunks stay small enough that miniredis, whose scripts run in a Go
	// Lua interpreter (slow under -race on a loaded machine), answers each
	// pipeline well within the client's read timeout.
	chunks := slices.Collect(slices.Chunk(sessions, 250))
	errs := make([]error, len(chunks))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, chunk := range chunks {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = s.createChunk(ctx, chunk)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Store) createChunk(ctx context.Context, chunk []auth.Session) error {
	cmds, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, sess := range chunk {
			created, idle := micros(sess.CreatedAt), micros(sess.ExpiresAt)
			uid, sid := sess.UserID, sess.ID
			member := indexMember(created, uid, sid)
			b := s.sessionBucket(sid)
			p.ZAdd(ctx, s.createdKey(b), redis.Z{Score: 0, Member: member})
			p.ZAdd(ctx, s.expiryKey(b), redis.Z{Score: float64(idle), Member: member})
			p.ZAddGT(ctx, s.usersKey(s.userBucket(uid)), redis.Z{Score: float64(idle), Member: fmt.Sprint(uid)})
			createSessionScript.EvalSha(ctx, p,
				s.sessionKeys(uid, sid),
				created, sid, s.userBase(uid),
				uid, sess.Username, created, created, idle, micros(sess.AbsoluteExpiresAt), sess.IP, sess.UserAgent, "rh-"+sid, MaxSessionsPerUser, adminFlag(sess.Admin), strings.Join(sess.AMR, " "),
			)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return err
		}
	}
	return nil
}

// DropIndexEntriesLate replays the index update of a revocation of
// session sid that saw remaining as the user's latest idle expiry (µs; ""
// for none), as if its pipeline arrived after later revocations' did.
func (s *Store) DropIndexEntriesLate(ctx context.Context, uid int64, sid string, remaining string) error {
	return s.dropIndexEntries(ctx, uid, []deleted{{sid: sid}}, remaining)
}
