package redisstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"authfn/pkg/auth"
)

const (
	// listRounds bounds how often ListSessions goes back to the buckets to
	// fill a page that dead entries left short.
	listRounds = 4
	// maxCursorLen bounds a cursor before it is decoded.
	maxCursorLen = 1024
)

// ListSessions returns a page of every user's live sessions ordered by
// creation (ties in a fixed order). Its cost depends on q.Limit and
// the number of buckets, never on how many sessions exist: each bucket
// scans a bounded number of index entries past the cursor. A page may be
// shorter than q.Limit when many dead entries await pruning; NextCursor is
// then still set. q.Limit defaults to 50 and is capped at 1000. Returns
// CodeInvalidRequest for a malformed cursor and CodeUnavailable when Redis
// is down.
func (s *Store) ListSessions(ctx context.Context, q auth.SessionQuery) (auth.SessionPage, error) {
	after, err := decodeCursor(q.Cursor)
	if err != nil {
		return auth.SessionPage{}, err
	}
	limit, now := auth.StorePageLimit(q.Limit), micros(q.Now)
	ctx, cancel := s.bound(ctx)
	defer cancel()

	var members []string
	next, more := after, false
	for range listRounds {
		ms, n, m, err := s.listRound(ctx, next, limit-len(members), now)
		if err != nil {
			return auth.SessionPage{}, err
		}
		members, next, more = append(members, ms...), n, m
		if !more || len(members) >= limit {
			break
		}
	}
	sessions, err := s.readSessions(ctx, members, now)
	if err != nil {
		return auth.SessionPage{}, err
	}
	page := auth.SessionPage{Sessions: sessions}
	if more {
		page.NextCursor = encodeCursor(next)
	}
	return page, nil
}

// listRound asks every bucket, in one pipeline, for live members after the
// cursor, and merges them. A bucket that stopped early (on its scan bound,
// or with as many as it was asked for) has not looked past its stopping
// point, so only members up to the smallest such point are safe to return:
// beyond it, a member of that bucket might be missed. It returns at most
// want members in order, the position to continue from, and whether there
// may be more.
func (s *Store) listRound(ctx context.Context, after string, want int, now int64) ([]string, string, bool, error) {
	start := "-"
	if after != "" {
		start = "(" + after
	}
	// Each bucket is asked for about three times its share of the page,
	// not for the whole page: sessions spread evenly over buckets, so the
	// merge below nearly always fills the page in one round, while the
	// server reads a fraction of buckets·(want+1) entries. A short merge
	// just costs another round.
	w := min(want+1, (3*(want+1)+s.buckets-1)/s.buckets+2)
	calls := make([]scriptCall, s.buckets)
	for b := range calls {
		calls[b] = scriptCall{
			keys: []string{s.createdKey(b), s.expiryKey(b)},
			args: []any{start, now, w, 4*w + 64, w + 4},
		}
	}
	cmds, err := s.evalAll(ctx, listBucketScript, calls)
	if err != nil {
		return nil, "", false, s.fail("list sessions", err)
	}
	var (
		bound   string // smallest stopping point; "" while every bucket reached its end
		stopped bool
		found   [][]any
	)
	for _, cmd := range cmds {
		v, err := cmd.Slice()
		if err != nil {
			return nil, "", false, s.fail("list sessions", err)
		}
		if len(v) != 3 {
			return nil, "", false, errors.New("redisstore: list sessions: malformed reply")
		}
		live, _ := v[2].([]any)
		found = append(found, live)
		if str(v[0]) == "end" {
			continue
		}
		if last := str(v[1]); !stopped || last < bound {
			bound, stopped = last, true
		}
	}
	var ms []string
	for _, live := range found {
		for _, m := range live {
			if m := str(m); !stopped || m <= bound {
				ms = append(ms, m)
			}
		}
	}
	slices.Sort(ms)
	switch {
	case len(ms) > want:
		return ms[:want], ms[want-1], true, nil
	case stopped:
		return ms, bound, true, nil
	default:
		return ms, "", false, nil
	}
}

// readSessions reads the sessions of index members in one pipeline,
// dropping those that are gone or dead: the index is only a pointer.
func (s *Store) readSessions(ctx context.Context, members []string, now int64) ([]auth.Session, error) {
	out := make([]auth.Session, 0, len(members))
	if len(members) == 0 {
		return out, nil
	}
	cmds := make([]*redis.SliceCmd, len(members))
	sids := make([]string, len(members))
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range members {
			_, uid, sid, _ := parseMember(m)
			sids[i] = sid
			cmds[i] = p.HMGet(ctx, s.sessionKey(uid, sid), "uid", "un", "c", "seen", "ie", "ae", "ip", "ua", "adm")
		}
		return nil
	})
	if err != nil {
		return nil, s.fail("list sessions: read", err)
	}
	for i, cmd := range cmds {
		f := cmd.Val()
		if len(f) != sessionFields || f[4] == nil || f[5] == nil {
			continue
		}
		sess, err := sessionFrom(sids[i], f)
		if err != nil {
			return nil, fmt.Errorf("redisstore: list sessions: %w", err)
		}
		if micros(sess.ExpiresAt) <= now || micros(sess.AbsoluteExpiresAt) <= now {
			continue
		}
		out = append(out, sess)
	}
	return out, nil
}

// SessionStats counts live sessions and users with a live session, from
// the global index (one pipeline, O(buckets · log n)). Returns
// CodeUnavailable when Redis is down.
func (s *Store) SessionStats(ctx context.Context, now time.Time) (auth.SessionStats, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	after := "(" + strconv.FormatInt(micros(now), 10)
	sessions := make([]*redis.IntCmd, s.buckets)
	users := make([]*redis.IntCmd, s.buckets)
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for b := range s.buckets {
			sessions[b] = p.ZCount(ctx, s.expiryKey(b), after, "+inf")
			users[b] = p.ZCount(ctx, s.usersKey(b), after, "+inf")
		}
		return nil
	})
	if err != nil {
		return auth.SessionStats{}, s.fail("session stats", err)
	}
	var st auth.SessionStats
	for b := range s.buckets {
		st.ActiveSessions += sessions[b].Val()
		st.ActiveUsers += users[b].Val()
	}
	return st, nil
}

func encodeCursor(member string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(member))
}

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	bad := auth.Errorf(auth.CodeInvalidRequest, "The cursor is not one this service issued.")
	if len(c) > maxCursorLen {
		return "", bad
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", bad
	}
	m := string(b)
	if _, _, _, ok := parseMember(m); !ok {
		return "", bad
	}
	return m, nil
}

// scriptCall is one run of a script in a pipeline.
type scriptCall struct {
	keys []string
	args []any
}

// evalAll runs one script once per call in one pipeline. It sends EVALSHA;
// if a server does not have the script (a restart, a failover, a new
// Cluster node), it loads the script on every node and sends the pipeline
// once more. The error is the pipeline's; each command carries its own.
func (s *Store) evalAll(ctx context.Context, sc *redis.Script, calls []scriptCall) ([]*redis.Cmd, error) {
	for attempt := 0; ; attempt++ {
		cmds := make([]*redis.Cmd, len(calls))
		_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, c := range calls {
				cmds[i] = sc.EvalSha(ctx, p, c.keys, c.args...)
			}
			return nil
		})
		if attempt == 0 && slices.ContainsFunc(cmds, func(c *redis.Cmd) bool { return redis.HasErrorPrefix(c.Err(), "NOSCRIPT") }) {
			if err := sc.Load(ctx, s.c).Err(); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			return cmds, err
		}
		return cmds, nil
	}
}
