package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"authfn/pkg/auth"
	"authfn/pkg/redisstore"
	"authfn/pkg/storetest"
	"authfn/pkg/testenv"
)

// backend is one kind of server the suites run on.
type backend struct {
	name string
	// open returns a client, a fresh key prefix, and a way to let time
	// pass for the server's TTLs.
	open func(t *testing.T) (redis.UniversalClient, string, func(time.Duration))
}

// clusterBackends are added by cluster_test.go when the tests are built
// with -tags rediscluster (make test-cluster).
var clusterBackends []backend

// backends are real Redis (TEST_REDIS_URL, skipped under -short) and
// miniredis, which the local runner embeds, plus a Redis Cluster under
// -tags rediscluster.
func backends() []backend {
	return append([]backend{
		{"redis", func(t *testing.T) (redis.UniversalClient, string, func(time.Duration)) {
			c, prefix := testenv.Redis(t)
			return c, prefix, time.Sleep
		}},
		{"miniredis", func(t *testing.T) (redis.UniversalClient, string, func(time.Duration)) {
			m := miniredis.RunT(t)
			// Longer socket timeouts than production's: the in-process
			// server shares the test's CPU, and a loaded CI machine under
			// -race must not turn that into a flaky i/o timeout.
			c, err := redisstore.NewClient("redis://"+m.Addr()+"?read_timeout=15s&write_timeout=15s", 0)
			if err != nil {
				t.Fatalf("NewClient = %v, want nil", err)
			}
			t.Cleanup(func() { c.Close() })
			return c, "authfn:", m.FastForward
		}},
	}, clusterBackends...)
}

func TestSessionStore(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			storetest.SessionStore(t, func(t *testing.T) storetest.SessionHarness {
				c, prefix, _ := b.open(t)
				trips := &testenv.RoundTrips{}
				c.AddHook(trips)
				return storetest.SessionHarness{Store: redisstore.New(c, redisstore.Options{Prefix: prefix}), RoundTrips: trips.Redis}
			})
		})
	}
}

func TestMFAChallenges(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			storetest.MFAChallenges(t, func(t *testing.T) (auth.MFAChallenges, func(time.Duration)) {
				c, prefix, elapse := b.open(t)
				return redisstore.New(c, redisstore.Options{Prefix: prefix}), elapse
			})
		})
	}
}

func TestThrottle(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			storetest.Throttle(t, func(t *testing.T) auth.Throttle {
				c, prefix, _ := b.open(t)
				return redisstore.New(c, redisstore.Options{Prefix: prefix})
			})
		})
	}
}

func TestLocker(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			storetest.Locker(t, func(t *testing.T) storetest.LockerHarness {
				c, prefix, elapse := b.open(t)
				return storetest.LockerHarness{Locker: redisstore.New(c, redisstore.Options{Prefix: prefix}), Elapse: elapse}
			})
		})
	}
}

// forEachBackend runs test on a fresh store of every backend.
func forEachBackend(t *testing.T, o redisstore.Options, test func(t *testing.T, s *redisstore.Store, c redis.UniversalClient)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			c, prefix, _ := b.open(t)
			o := o
			o.Prefix = prefix
			test(t, redisstore.New(c, o), c)
		})
	}
}

func baseTime() time.Time { return time.Date(2026, 6, 29, 14, 41, 43, 335368000, time.UTC) }

func session(uid int64, sid string, created time.Time) auth.Session {
	return auth.Session{
		ID: sid, UserID: uid, Username: fmt.Sprintf("user%d", uid),
		CreatedAt: created, LastSeenAt: created,
		ExpiresAt: created.Add(7 * 24 * time.Hour), AbsoluteExpiresAt: created.Add(30 * 24 * time.Hour),
		IP: "198.51.100.1", UserAgent: "test",
	}
}

func create(t *testing.T, s *redisstore.Store, sess auth.Session) {
	t.Helper()
	if err := s.CreateSession(t.Context(), sess, "rh-"+sess.ID); err != nil {
		t.Fatalf("CreateSession(%s) = %v, want nil", sess.ID, err)
	}
}

// indexSize counts the members of every global index key.
func indexSize(t *testing.T, s *redisstore.Store, c redis.UniversalClient) (created, expiry, users int64) {
	t.Helper()
	for b := range s.BucketCount() {
		created += c.ZCard(t.Context(), redisstore.CreatedKeyOf(s, b)).Val()
		expiry += c.ZCard(t.Context(), redisstore.ExpiryKeyOf(s, b)).Val()
		users += c.ZCard(t.Context(), redisstore.UsersKeyOf(s, b)).Val()
	}
	return created, expiry, users
}

func TestRevocationCleansIndex(t *testing.T) {
	forEachBackend(t, redisstore.Options{}, func(t *testing.T, s *redisstore.Store, c redis.UniversalClient) {
		base := baseTime()
		for i := range 5 {
			create(t, s, session(1, fmt.Sprintf("s_%d", i), base.Add(time.Duration(i)*time.Second)))
		}
		create(t, s, session(2, "s_x", base))
		create(t, s, session(3, "s_y", base))
		if got, want := three(indexSize(t, s, c)), [3]int64{7, 7, 3}; got != want {
			t.Fatalf("index sizes (created, expiry, users) = %v, want %v", got, want)
		}

		if n, err := s.RevokeUserSessions(t.Context(), 1, "s_0"); n != 4 || err != nil {
			t.Fatalf("RevokeUserSessions = %d, %v, want 4, nil", n, err)
		}
		if got, want := three(indexSize(t, s, c)), [3]int64{3, 3, 3}; got != want {
			t.Errorf("after RevokeUserSessions: index sizes = %v, want %v", got, want)
		}
		if ok, err := s.RevokeSession(t.Context(), 1, "s_0"); !ok || err != nil {
			t.Fatalf("RevokeSession = %v, %v, want true, nil", ok, err)
		}
		if got, want := three(indexSize(t, s, c)), [3]int64{2, 2, 2}; got != want {
			t.Errorf("after RevokeSession: index sizes = %v, want %v", got, want)
		}

		// Reuse ends the session and takes its entries out of the index.
		r := auth.Rotation{UserID: 2, SessionID: "s_x", PresentedHash: "rh-s_x", NewHash: "rh-2", Now: base.Add(time.Hour), Grace: time.Second, IdleTTL: time.Hour}
		if _, err := s.RotateRefresh(t.Context(), r); err != nil {
			t.Fatalf("RotateRefresh = %v, want nil", err)
		}
		r.Now, r.NewHash = r.Now.Add(time.Minute), "rh-3"
		if _, err := s.RotateRefresh(t.Context(), r); !errors.Is(err, auth.ErrTokenReused) {
			t.Fatalf("RotateRefresh = %v, want %v", err, auth.ErrTokenReused)
		}
		if got, want := three(indexSize(t, s, c)), [3]int64{1, 1, 1}; got != want {
			t.Errorf("after reuse: index sizes = %v, want %v", got, want)
		}
	})
}

// listAll walks every page of ListSessions and returns the ids.
func listAll(t *testing.T, s *redisstore.Store, now time.Time, limit int) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("more than 10000 pages")
		}
		p, err := s.ListSessions(t.Context(), auth.SessionQuery{Cursor: cursor, Limit: limit, Now: now})
		if err != nil {
			t.Fatalf("ListSessions = %v, want nil", err)
		}
		for _, sess := range p.Sessions {
			ids = append(ids, sess.ID)
		}
		if cursor = p.NextCursor; cursor == "" {
			return ids
		}
	}
}

func three(a, b, c int64) [3]int64 { return [3]int64{a, b, c} }

func TestRotateUpdatesIndexAndTTL(t *testing.T) {
	forEachBackend(t, redisstore.Options{}, func(t *testing.T, s *redisstore.Store, c redis.UniversalClient) {
		base := baseTime()
		sess := session(4, "s_ttl", base)
		create(t, s, sess)
		ctx := t.Context()
		if ttl := c.PTTL(ctx, redisstore.SessionKeyOf(s, 4, "s_ttl")).Val(); ttl <= 7*24*time.Hour-time.Minute || ttl > 7*24*time.Hour {
			t.Errorf("session TTL = %v, want about 168h", ttl)
		}
		if ttl := c.PTTL(ctx, redisstore.UserIndexKeyOf(s, 4)).Val(); ttl <= 30*24*time.Hour-time.Minute {
			t.Errorf("user index TTL = %v, want at least 720h", ttl)
		}

		prev := "rh-s_ttl"
		now := base
		for i := range 70 {
			now = now.Add(time.Hour)
			next := fmt.Sprintf("rh-%d", i)
			if _, err := s.RotateRefresh(ctx, auth.Rotation{UserID: 4, SessionID: "s_ttl", PresentedHash: prev, NewHash: next, Now: now, Grace: time.Second, IdleTTL: 200 * time.Hour}); err != nil {
				t.Fatalf("RotateRefresh %d = %v, want nil", i, err)
			}
			prev = next
		}
		if n := c.ZCard(ctx, redisstore.HistoryKeyOf(s, 4, "s_ttl")).Val(); n != 64 {
			t.Errorf("history length = %d, want 64", n)
		}
		if ttl := c.PTTL(ctx, redisstore.SessionKeyOf(s, 4, "s_ttl")).Val(); ttl <= 200*time.Hour-time.Minute || ttl > 200*time.Hour {
			t.Errorf("session TTL after rotation = %v, want about 200h", ttl)
		}
		// The global expiry follows the rotation, so that stats and listing
		// count the session until its new expiry.
		stats, err := s.SessionStats(ctx, base.Add(7*24*time.Hour+time.Hour)) // ends at 270h
		if err != nil || stats.ActiveSessions != 1 {
			t.Errorf("SessionStats after the first idle expiry = %+v, %v, want 1 session", stats, err)
		}
		// The oldest tokens fell out of the history: unknown, not reuse.
		_, err = s.RotateRefresh(ctx, auth.Rotation{UserID: 4, SessionID: "s_ttl", PresentedHash: "rh-0", NewHash: "x", Now: now, Grace: time.Second, IdleTTL: time.Hour})
		if !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("RotateRefresh with a token beyond the history = %v, want %v", err, auth.ErrNotFound)
		}
	})
}

func TestPruneOrphans(t *testing.T) {
	forEachBackend(t, redisstore.Options{Buckets: 4}, func(t *testing.T, s *redisstore.Store, c redis.UniversalClient) {
		base := baseTime()
		ctx := t.Context()
		const users = 13
		var bulk []auth.Session
		for i := range 1200 { // more than two batches of the orphan walk, under the per-user cap
			bulk = append(bulk, session(int64(i%users), fmt.Sprintf("s_%04d", i), base.Add(time.Duration(i)*time.Millisecond)))
		}
		if err := s.CreateSessionsBulk(ctx, bulk); err != nil {
			t.Fatalf("CreateSessionsBulk = %v, want nil", err)
		}
		young := session(1, "s_young", base.Add(time.Hour-time.Minute))
		create(t, s, young)
		// Lose some sessions the way an eviction or a failed write would:
		// their index entries stay behind.
		for i := 0; i < 1200; i += 100 {
			c.Del(ctx, redisstore.SessionKeyOf(s, int64(i%users), fmt.Sprintf("s_%04d", i)))
		}
		c.Del(ctx, redisstore.SessionKeyOf(s, 1, "s_young"))

		now := base.Add(time.Hour)
		if got := len(listAll(t, s, now, 200)); got != 1188 {
			t.Errorf("sessions listed before pruning = %d, want 1188", got)
		}
		got, err := s.PruneSessions(ctx, now)
		if want := (auth.PruneResult{OrphanedIndexEntries: 12, Complete: true}); err != nil || got != want {
			t.Errorf("PruneSessions = %+v, %v, want %+v, nil", got, err, want)
		}
		// The young orphan might still be a session being created.
		got, err = s.PruneSessions(ctx, now.Add(10*time.Minute))
		if want := (auth.PruneResult{OrphanedIndexEntries: 1, Complete: true}); err != nil || got != want {
			t.Errorf("PruneSessions later = %+v, %v, want %+v, nil", got, err, want)
		}
		if got, want := three(indexSize(t, s, c)), [3]int64{1188, 1188, users}; got != want {
			t.Errorf("index sizes = %v, want %v", got, want)
		}
	})
}

func TestPruneStopsAtDeadline(t *testing.T) {
	forEachBackend(t, redisstore.Options{}, func(t *testing.T, s *redisstore.Store, c redis.UniversalClient) {
		create(t, s, session(1, "s_1", baseTime()))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		got, err := s.PruneSessions(ctx, baseTime().Add(30*24*time.Hour))
		if err != nil || got.Complete {
			t.Errorf("PruneSessions(done ctx) = %+v, %v, want incomplete, nil", got, err)
		}
	})
}

func TestListSkipsDeadEntries(t *testing.T) {
	// Many dead entries between live ones: pages may come short, but the
	// walk returns every live session once and in order.
	forEachBackend(t, redisstore.Options{Buckets: 3}, func(t *testing.T, s *redisstore.Store, c redis.UniversalClient) {
		base := baseTime()
		var want []string
		var bulk []auth.Session
		for i := range 1000 {
			sess := session(int64(i%11), fmt.Sprintf("s_%04d", i), base.Add(time.Duration(i)*time.Second))
			if i%200 == 199 {
				want = append(want, sess.ID)
			} else {
				sess.ExpiresAt = base.Add(time.Hour * 24) // dead at now
			}
			bulk = append(bulk, sess)
		}
		if err := s.CreateSessionsBulk(t.Context(), bulk); err != nil {
			t.Fatalf("CreateSessionsBulk = %v, want nil", err)
		}
		got := listAll(t, s, base.Add(48*time.Hour), 2)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("listed %v, want %v", got, want)
		}
	})
}

func TestScriptErrorIsInternal(t *testing.T) {
	forEachBackend(t, redisstore.Options{}, func(t *testing.T, s *redisstore.Store, c redis.UniversalClient) {
		// A key of the wrong type makes the script fail: a bug, not an
		// outage, so it must not be answered with 503.
		c.Set(t.Context(), redisstore.UserIndexKeyOf(s, 5), "not a zset", 0)
		err := s.CreateSession(t.Context(), session(5, "s_1", baseTime()), "rh")
		if err == nil || auth.ErrorCode(err) != auth.CodeInternal {
			t.Errorf("CreateSession = %v (code %s), want code %s", err, auth.ErrorCode(err), auth.CodeInternal)
		}
	})
}

func TestCreateNeverOverwrites(t *testing.T) {
	forEachBackend(t, redisstore.Options{}, func(t *testing.T, s *redisstore.Store, c redis.UniversalClient) {
		base := baseTime()
		create(t, s, session(6, "s_dup", base))
		// A retry of the same call succeeds without a second session.
		if err := s.CreateSession(t.Context(), session(6, "s_dup", base), "rh-s_dup"); err != nil {
			t.Errorf("CreateSession again = %v, want nil", err)
		}
		other := session(6, "s_dup", base.Add(time.Second))
		other.Username = "mallory"
		if err := s.CreateSession(t.Context(), other, "rh-mallory"); err == nil {
			t.Error("CreateSession with a taken id = nil, want an error")
		}
		if err := s.CreateSession(t.Context(), session(6, "s_dup", base), "rh-mallory"); err == nil {
			t.Error("CreateSession with a taken id and time = nil, want an error")
		}
		got, err := s.TouchSession(t.Context(), 6, "s_dup", base.Add(time.Minute))
		if err != nil || got.Username != "user6" {
			t.Errorf("TouchSession = %q, %v, want %q, nil", got.Username, err, "user6")
		}
		page, err := s.ListSessions(t.Context(), auth.SessionQuery{Limit: 10, Now: base.Add(time.Minute)})
		if err != nil || len(page.Sessions) != 1 {
			t.Errorf("ListSessions = %d sessions, %v, want 1, nil", len(page.Sessions), err)
		}
	})
}

func TestLoadingIsUnavailable(t *testing.T) {
	m := miniredis.RunT(t)
	c, err := redisstore.NewClient("redis://"+m.Addr(), 0)
	if err != nil {
		t.Fatalf("NewClient = %v, want nil", err)
	}
	defer c.Close()
	s := redisstore.New(c, redisstore.Options{})
	for _, msg := range []string{
		"LOADING Redis is loading the dataset in memory",
		"READONLY You can't write against a read only replica.",
		"CLUSTERDOWN The cluster is down",
		"MASTERDOWN Link with MASTER is down",
	} {
		m.SetError(msg)
		err := s.Ping(t.Context())
		if code := auth.ErrorCode(err); code != auth.CodeUnavailable {
			t.Errorf("Ping with %q = %v (code %s), want code %s", msg, err, code, auth.CodeUnavailable)
		}
		_, err = s.TouchSession(t.Context(), 1, "s", baseTime())
		if code := auth.ErrorCode(err); code != auth.CodeUnavailable {
			t.Errorf("TouchSession with %q = %v (code %s), want code %s", msg, err, code, auth.CodeUnavailable)
		}
	}
}

// TestStoreDown checks that every method fails fast and closed, with
// CodeUnavailable, when nothing listens.
func TestStoreDown(t *testing.T) {
	c, err := redisstore.NewClient("redis://127.0.0.1:1/0", 0)
	if err != nil {
		t.Fatalf("NewClient = %v, want nil", err)
	}
	t.Cleanup(func() { c.Close() })
	s := redisstore.New(c, redisstore.Options{})
	base := baseTime()
	policy := auth.ThrottlePolicy{Max: 3, Window: time.Minute, BaseLock: time.Minute, MaxLock: time.Hour}
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"CreateSession", func(ctx context.Context) error { return s.CreateSession(ctx, session(1, "s", base), "rh") }},
		{"TouchSession", func(ctx context.Context) error { _, err := s.TouchSession(ctx, 1, "s", base); return err }},
		{"RotateRefresh", func(ctx context.Context) error {
			_, err := s.RotateRefresh(ctx, auth.Rotation{UserID: 1, SessionID: "s", PresentedHash: "a", NewHash: "b", Now: base, IdleTTL: time.Hour})
			return err
		}},
		{"UserSessions", func(ctx context.Context) error { _, err := s.UserSessions(ctx, 1, base); return err }},
		{"RevokeSession", func(ctx context.Context) error { _, err := s.RevokeSession(ctx, 1, "s"); return err }},
		{"RevokeUserSessions", func(ctx context.Context) error { _, err := s.RevokeUserSessions(ctx, 1, ""); return err }},
		{"ListSessions", func(ctx context.Context) error {
			_, err := s.ListSessions(ctx, auth.SessionQuery{Limit: 10, Now: base})
			return err
		}},
		{"SessionStats", func(ctx context.Context) error { _, err := s.SessionStats(ctx, base); return err }},
		{"PruneSessions", func(ctx context.Context) error { _, err := s.PruneSessions(ctx, base); return err }},
		{"Ping", s.Ping},
		{"Attempt", func(ctx context.Context) error {
			_, _, err := s.Attempt(ctx, base, auth.ThrottleCount{Key: "a", Policy: policy}, auth.ThrottleCount{Key: "b", Policy: policy})
			return err
		}},
		{"Release", func(ctx context.Context) error {
			return s.Release(ctx, base, auth.ThrottleRelease{Key: "a", Started: time.Minute}, auth.ThrottleRelease{Key: "b", Forget: true})
		}},
		{"Lock", func(ctx context.Context) error { _, _, err := s.Lock(ctx, "a", time.Minute); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			err := tc.call(t.Context())
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("took %v, want well under 5s", took)
			}
			if code := auth.ErrorCode(err); code != auth.CodeUnavailable {
				t.Errorf("err = %v (code %s), want code %s", err, code, auth.CodeUnavailable)
			}
		})
	}
}

// TestStoreHangs checks that a server that accepts connections but never
// answers costs a call no more than the store's timeout.
func TestStoreHangs(t *testing.T) {
	c, err := redisstore.NewClient("redis://"+silentServer(t), 300*time.Millisecond)
	if err != nil {
		t.Fatalf("NewClient = %v, want nil", err)
	}
	t.Cleanup(func() { c.Close() })
	s := redisstore.New(c, redisstore.Options{Timeout: 300 * time.Millisecond})
	for _, call := range []func(context.Context) error{
		s.Ping,
		func(ctx context.Context) error { _, err := s.TouchSession(ctx, 1, "s", baseTime()); return err },
	} {
		start := time.Now()
		err := call(t.Context())
		if took := time.Since(start); took > time.Second {
			t.Errorf("took %v, want about the store's 300ms timeout", took)
		}
		if code := auth.ErrorCode(err); code != auth.CodeUnavailable {
			t.Errorf("err = %v (code %s), want code %s", err, code, auth.CodeUnavailable)
		}
	}
}

func TestNewClient(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		cluster bool
		wantErr bool
	}{
		{"plain", "redis://127.0.0.1:6379/0", false, false},
		{"TLS", "rediss://user:secret@cache.example.com:6380/1", false, false},
		{"cluster seeds", "redis://10.0.0.1:6379?addr=10.0.0.2:6379&addr=10.0.0.3:6379", true, false},
		{"TLS cluster", "rediss://:secret@10.0.0.1:6379?addr=10.0.0.2:6379", true, false},
		{"options kept", "redis://127.0.0.1:6379/0?read_timeout=5s&pipeline_read_buffer_size=65536", false, false},
		{"other scheme", "http://127.0.0.1:6379", false, true},
		{"unparsable", "redis://user:secret@[::1", false, true},
		{"unknown option", "redis://user:secret@127.0.0.1:6379/0?bogus=1", false, true},
		{"bad database", "redis://user:secret@127.0.0.1:6379/x", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			// The store's timeout, not go-redis's defaults nor 2s.
			const timeout = 3 * time.Second
			c, err := redisstore.NewClient(tc.url, timeout)
			if took := time.Since(start); took > 100*time.Millisecond {
				t.Errorf("NewClient took %v; it must not touch the network", took)
			}
			if tc.wantErr {
				if err == nil {
					c.Close()
					t.Fatalf("NewClient(%q) = nil error, want one", tc.url)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error %q repeats the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewClient(%q) = %v, want nil", tc.url, err)
			}
			defer c.Close()
			switch cc := c.(type) {
			case *redis.ClusterClient:
				if !tc.cluster {
					t.Fatalf("client = %T, want *redis.Client", c)
				}
				o := cc.Options()
				if o.DialTimeout != timeout || o.ReadTimeout != timeout || o.WriteTimeout != timeout || o.PoolTimeout != timeout {
					t.Errorf("timeouts dial %v read %v write %v pool %v, want %v each", o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, timeout)
				}
				if !o.ContextTimeoutEnabled {
					t.Error("the context's deadline is not honoured")
				}
				if o.ClusterStateReloadInterval > 10*time.Second {
					t.Errorf("slot map reloaded every %v, want at most 10s", o.ClusterStateReloadInterval)
				}
				if len(o.Addrs) < 2 {
					t.Errorf("seeds = %v, want several", o.Addrs)
				}
				// A connection's buffers are a runner's heap under load.
				if o.ReadBufferSize != 4<<10 || o.WriteBufferSize != 4<<10 {
					t.Errorf("buffers read %d write %d, want 4 KiB each", o.ReadBufferSize, o.WriteBufferSize)
				}
			case *redis.Client:
				if tc.cluster {
					t.Fatalf("client = %T, want *redis.ClusterClient", c)
				}
				o := cc.Options()
				wantRead := timeout
				if tc.name == "options kept" {
					wantRead = 5 * time.Second
				}
				if o.DialTimeout != timeout || o.ReadTimeout != wantRead || o.WriteTimeout != timeout || o.PoolTimeout != timeout {
					t.Errorf("timeouts dial %v read %v write %v pool %v, want %v, %v, %v, %v", o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, timeout, wantRead, timeout, timeout)
				}
				if !o.ContextTimeoutEnabled {
					t.Error("the context's deadline is not honoured")
				}
				wantPipelineRead := 4 << 10
				if tc.name == "options kept" {
					wantPipelineRead = 64 << 10
				}
				if o.ReadBufferSize != 4<<10 || o.WriteBufferSize != 4<<10 || o.PipelineReadBufferSize != wantPipelineRead || o.PipelineWriteBufferSize != 4<<10 {
					t.Errorf("buffers read %d write %d, pipeline read %d write %d; want 4 KiB each but a pipeline read of %d",
						o.ReadBufferSize, o.WriteBufferSize, o.PipelineReadBufferSize, o.PipelineWriteBufferSize, wantPipelineRead)
				}
				if strings.HasPrefix(tc.url, "rediss:") && o.TLSConfig == nil {
					t.Error("rediss URL without TLS")
				}
			default:
				t.Fatalf("client = %T", c)
			}
		})
	}
}

// TestNewClientLazy checks that a client on an address that never answers
// is made at once: cold starts pay no round trip.
func TestNewClientLazy(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen = %v", err)
	}
	defer l.Close()
	var accepted atomic.Int32
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conn.Close()
		}
	}()
	c, err := redisstore.NewClient("redis://"+l.Addr().String(), 0)
	if err != nil {
		t.Fatalf("NewClient = %v, want nil", err)
	}
	redisstore.New(c, redisstore.Options{Prefix: "p:"})
	time.Sleep(5 * time.Millisecond)
	c.Close()
	if n := accepted.Load(); n != 0 {
		t.Errorf("connections = %d, want 0", n)
	}
}

func TestNewRejectsBracesInPrefix(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New with a brace in the prefix did not panic")
		}
	}()
	redisstore.New(nil, redisstore.Options{Prefix: "a{b}:"})
}

// TestSessionsPerUserAreCapped: past MaxSessionsPerUser, a new session
// ends the one closest to its idle end, so no per-user script grows
// without bound; other users are untouched.
func TestSessionsPerUserAreCapped(t *testing.T) {
	forEachBackend(t, redisstore.Options{}, func(t *testing.T, s *redisstore.Store, c redis.UniversalClient) {
		base := baseTime()
		create(t, s, session(2, "s_other", base))
		extra := 3
		for i := range redisstore.MaxSessionsPerUser + extra {
			create(t, s, session(1, fmt.Sprintf("s_%04d", i), base.Add(time.Duration(i)*time.Second)))
		}
		now := base.Add(time.Hour)
		list, err := s.UserSessions(t.Context(), 1, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != redisstore.MaxSessionsPerUser || list[0].ID != fmt.Sprintf("s_%04d", extra) {
			t.Fatalf("%d sessions, oldest %s; want %d, the first %d ended", len(list), list[0].ID, redisstore.MaxSessionsPerUser, extra)
		}
		if _, err := s.TouchSession(t.Context(), 1, "s_0000", now); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("the oldest session still touches: %v", err)
		}
		if _, err := s.TouchSession(t.Context(), 2, "s_other", now); err != nil {
			t.Errorf("another user's session: %v", err)
		}
	})
}
