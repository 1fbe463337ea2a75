package cleanup_test

import (
	"testing"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

const password = "correct horse battery"

type fixture struct {
	*testenv.Served
	http  *testenv.HTTP
	admin []string
}

func serve(t *testing.T, env *testenv.Env) *testenv.Served {
	return env.Serve(t, web.Options{}, "LoginFunction", "SessionsFunction", "CleanupFunction")
}

func setup(t *testing.T) *fixture {
	env := testenv.New(t)
	env.CreateUser(t, "admin", password, true)
	s := serve(t, env)
	f := &fixture{Served: s, http: s.HTTP(t)}
	f.admin = testenv.Bearer(f.login(t, "admin").AccessToken)
	return f
}

func (f *fixture) login(t *testing.T, user string) auth.TokenPair {
	t.Helper()
	return f.Login(t, user, password)
}

func (f *fixture) stats(t *testing.T) auth.SessionStats {
	t.Helper()
	var r struct {
		Stats auth.SessionStats `json:"stats"`
	}
	f.http.Do("GET", "/api/auth/v2/sessions", nil, f.admin...).Want(200).JSON(&r)
	return r.Stats
}

// TestCleanupPrunesExpiredAndKeepsLive: expired sessions' index entries go,
// live sessions are untouched, and the counts say so.
func TestCleanupPrunesExpiredAndKeepsLive(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "old", password, false)
	f.CreateUser(t, "new", password, false)
	for i := 0; i < 3; i++ {
		f.login(t, "old")
	}
	f.Clock.Advance(6 * 24 * time.Hour)
	live := f.login(t, "new")
	f.Clock.Advance(2 * 24 * time.Hour) // the three "old" sessions and the first admin one idle out
	f.admin = testenv.Bearer(f.login(t, "admin").AccessToken)
	live = refresh(t, f, live) // the access token expired; the session did not

	var r auth.CleanupResult
	f.http.Do("POST", "/api/auth/v2/cleanup", nil, f.admin...).Want(200).JSON(&r)
	// The first admin login (at the start) expired too: 3 old + 1 admin.
	if r.ExpiredIndexEntries != 4 || !r.Complete || r.Removed < r.ExpiredIndexEntries {
		t.Errorf("result %+v, want 4 expired index entries, complete", r)
	}
	if st := f.stats(t); st.ActiveSessions != 2 || st.ActiveUsers != 2 {
		t.Errorf("stats after cleanup %+v, want 2 sessions of 2 users", st)
	}
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(live.AccessToken)...).Want(200)
	// A second run finds nothing more.
	f.http.Do("POST", "/api/auth/v2/cleanup", nil, f.admin...).Want(200).JSON(&r)
	if r.ExpiredIndexEntries != 0 {
		t.Errorf("second run removed %d, want 0", r.ExpiredIndexEntries)
	}
	ev, err := f.SQL.Events(t.Context(), auth.EventQuery{Type: auth.EventCleanupRun, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 2 || ev[0].ActorID == nil || ev[0].RequestID == "" {
		t.Errorf("cleanup.run events %+v, want 2 with the admin as actor", ev)
	}
}

func TestCleanupDeletesOldAuditEvents(t *testing.T) {
	f := setup(t)
	now := f.Clock.Now()
	for i, age := range []time.Duration{100 * 24 * time.Hour, 91 * 24 * time.Hour, 89 * 24 * time.Hour, time.Hour} {
		if err := f.SQL.RecordEvent(t.Context(), auth.Event{Type: "test.event", Time: now.Add(-age), Details: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
	}
	var r auth.CleanupResult
	f.http.Do("POST", "/api/auth/v2/cleanup", nil, f.admin...).Want(200).JSON(&r)
	if r.AuditEventsDeleted != 2 {
		t.Errorf("audit_events_deleted = %d, want 2 (older than 90 days)", r.AuditEventsDeleted)
	}
	left, err := f.SQL.Events(t.Context(), auth.EventQuery{Type: "test.event", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 {
		t.Errorf("%d test events left, want 2", len(left))
	}
}

// TestCleanupRunsAlone: a second run while one holds the lock is a 409.
func TestCleanupRunsAlone(t *testing.T) {
	f := setup(t)
	unlock, ok, err := f.Sessions.Lock(t.Context(), "cleanup", time.Minute)
	if err != nil || !ok {
		t.Fatalf("take the lock: %v %v", ok, err)
	}
	f.http.Do("POST", "/api/auth/v2/cleanup", nil, f.admin...).Want(409, "conflict")
	if err := unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.http.Do("POST", "/api/auth/v2/cleanup", nil, f.admin...).Want(200)
}

func TestCleanupNeedsAdmin(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "bob", password, false)
	bob := f.login(t, "bob")
	f.http.Do("POST", "/api/auth/v2/cleanup", nil).Want(401, "invalid_token")
	f.http.Do("POST", "/api/auth/v2/cleanup", nil, testenv.Bearer(bob.AccessToken)...).Want(403, "forbidden")
	f.http.Do("GET", "/api/auth/v2/cleanup", nil, f.admin...).Want(405, "method_not_allowed")
}

func TestCleanupRedisDown(t *testing.T) {
	f := setup(t)
	down := f.Down(t, "redis")
	// The scheduler's path, with no HTTP in front.
	if _, err := down.Auth.Maintenance.Cleanup(t.Context()); auth.ErrorCode(err) != auth.CodeUnavailable {
		t.Errorf("Cleanup with Redis down: %v, want unavailable", err)
	}
	serve(t, down).HTTP(t).Do("POST", "/api/auth/v2/cleanup", nil, f.admin...).Want(503, "unavailable")
}

func refresh(t *testing.T, f *fixture, p auth.TokenPair) auth.TokenPair {
	t.Helper()
	var q auth.TokenPair
	f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": p.RefreshToken}).Want(200).JSON(&q)
	return q
}
