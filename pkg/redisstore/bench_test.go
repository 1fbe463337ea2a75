package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"authfn/pkg/auth"
	"authfn/pkg/redisstore"
	"authfn/pkg/testenv"
)

// BenchmarkPing is the baseline: one round trip to Redis.
func BenchmarkPing(b *testing.B) {
	s := testenv.RedisStore(b)
	ctx := b.Context()
	for b.Loop() {
		if err := s.Ping(ctx); err != nil {
			b.Fatalf("Ping = %v", err)
		}
	}
}

// BenchmarkTouchSession is the Redis cost of every authenticated request;
// it should stay close to BenchmarkPing.
func BenchmarkTouchSession(b *testing.B) {
	s := testenv.RedisStore(b)
	ctx, base := b.Context(), baseTime()
	if err := s.CreateSession(ctx, session(42, "s_bench", base), "rh"); err != nil {
		b.Fatalf("CreateSession = %v", err)
	}
	now := base.Add(time.Minute)
	for b.Loop() {
		if _, err := s.TouchSession(ctx, 42, "s_bench", now); err != nil {
			b.Fatalf("TouchSession = %v", err)
		}
	}
}

// BenchmarkListSessions reads the first page (50) of the admin listing with
// a thousand and with a hundred thousand live sessions: the two should cost
// about the same.
func BenchmarkListSessions(b *testing.B) {
	for _, live := range []int{1000, 100_000} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			s := testenv.RedisStore(b)
			ctx, base := b.Context(), baseTime()
			bulk := make([]auth.Session, live)
			for i := range bulk {
				bulk[i] = session(int64(i%5000), fmt.Sprintf("s_%06d", i), base.Add(time.Duration(i)*time.Microsecond))
			}
			if err := s.CreateSessionsBulk(ctx, bulk); err != nil {
				b.Fatalf("CreateSessionsBulk = %v", err)
			}
			q := auth.SessionQuery{Limit: 50, Now: base.Add(time.Hour)}
			for b.Loop() {
				p, err := s.ListSessions(ctx, q)
				if err != nil || len(p.Sessions) != 50 {
					b.Fatalf("ListSessions = %d sessions, %v, want 50, nil", len(p.Sessions), err)
				}
			}
		})
	}
}

// TestPruneLarge prunes 100k expired sessions among 1k live ones, checks
// the counts exactly, and reports the longest single command Redis ran for
// it (from SLOWLOG): pruning in batches must never block Redis for long.
func TestPruneLarge(t *testing.T) {
	c, prefix := testenv.Redis(t)
	s := redisstore.New(c, redisstore.Options{Prefix: prefix})
	ctx, base := t.Context(), baseTime()

	const expired, expiredUsers, live, liveUsers = 100_000, 10_000, 1_000, 100
	start := time.Now()
	bulk := make([]auth.Session, 0, expired+live)
	for i := range expired {
		sess := session(int64(1+i%expiredUsers), fmt.Sprintf("s_x%06d", i), base.Add(time.Duration(i)*time.Microsecond))
		sess.ExpiresAt = base.Add(time.Hour)
		bulk = append(bulk, sess)
	}
	var liveIDs []string
	for i := range live {
		sess := session(int64(100_001+i%liveUsers), fmt.Sprintf("s_l%06d", i), base.Add(time.Duration(i)*time.Millisecond))
		bulk = append(bulk, sess)
		liveIDs = append(liveIDs, sess.ID)
	}
	if err := s.CreateSessionsBulk(ctx, bulk); err != nil {
		t.Fatalf("CreateSessionsBulk = %v", err)
	}
	t.Logf("populated %d sessions in %v", len(bulk), time.Since(start).Round(time.Millisecond))

	firstID := watchSlowlog(t, c)
	now := base.Add(2 * time.Hour)
	pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	start = time.Now()
	got, err := s.PruneSessions(pctx, now)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("PruneSessions = %v", err)
	}
	want := auth.PruneResult{ExpiredIndexEntries: expired, ExpiredUserEntries: expiredUsers, Complete: true}
	if got != want {
		t.Errorf("PruneSessions = %+v, want %+v", got, want)
	}
	longest, name := longestCommand(t, c, firstID, prefix)
	t.Logf("PruneSessions took %v; longest single Redis command %v (%s)", took.Round(time.Millisecond), longest, name)

	listed := listAll(t, s, now, 200)
	slices.Sort(listed)
	if !slices.Equal(listed, liveIDs) {
		t.Errorf("listed %d sessions after pruning, want the %d live ones", len(listed), len(liveIDs))
	}
	for i, sid := range liveIDs {
		if _, err := s.TouchSession(ctx, int64(100_001+i%liveUsers), sid, now); err != nil {
			t.Errorf("TouchSession(%s) = %v, want nil", sid, err)
		}
	}
	if st, err := s.SessionStats(ctx, now); err != nil || st != (auth.SessionStats{ActiveSessions: live, ActiveUsers: liveUsers}) {
		t.Errorf("SessionStats = %+v, %v, want %d sessions of %d users", st, err, live, liveUsers)
	}
}

// watchSlowlog makes Redis log every command until the test ends and
// returns the id the next entry will have at least.
func watchSlowlog(t *testing.T, c redis.UniversalClient) int64 {
	t.Helper()
	ctx := t.Context()
	old, err := c.ConfigGet(ctx, "slowlog-*").Result()
	if err != nil {
		t.Fatalf("CONFIG GET = %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, k := range []string{"slowlog-log-slower-than", "slowlog-max-len"} {
			if err := c.ConfigSet(ctx, k, old[k]).Err(); err != nil {
				t.Errorf("restore %s = %v", k, err)
			}
		}
	})
	for k, v := range map[string]string{"slowlog-log-slower-than": "0", "slowlog-max-len": "100000"} {
		if err := c.ConfigSet(ctx, k, v).Err(); err != nil {
			t.Fatalf("CONFIG SET %s = %v", k, err)
		}
	}
	last, err := c.SlowLogGet(ctx, 1).Result()
	if err != nil {
		t.Fatalf("SLOWLOG GET = %v", err)
	}
	if len(last) == 0 {
		return 0
	}
	return last[0].ID + 1
}

// longestCommand returns the longest command since firstID that touched a
// key under prefix (other tests may share the server).
func longestCommand(t *testing.T, c redis.UniversalClient, firstID int64, prefix string) (time.Duration, string) {
	t.Helper()
	entries, err := c.SlowLogGet(t.Context(), 100000).Result()
	if err != nil {
		t.Fatalf("SLOWLOG GET = %v", err)
	}
	var longest time.Duration
	var name string
	for _, e := range entries {
		if e.ID < firstID || !slices.ContainsFunc(e.Args, func(a string) bool { return strings.HasPrefix(a, prefix) }) {
			continue
		}
		if e.Duration > longest {
			longest, name = e.Duration, strings.Join(e.Args[:min(len(e.Args), 2)], " ")
		}
	}
	return longest, name
}
