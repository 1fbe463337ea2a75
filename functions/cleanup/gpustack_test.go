package cleanup_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"authfn/pkg/app"
	"authfn/pkg/auth"
	"authfn/pkg/gpustack/gpustacktest"
	"authfn/pkg/testenv"
)

const (
	gpuKey      = "gpustack_0a1b2c3d_cleanup-test-key"
	gpuPassword = "Gpu-Pa55word!"
)

// gpuFixture is the login, sessions and cleanup groups with the GPUStack
// fallback on, built from the configuration as every binary is, against
// a fake GPUStack whose admin "gpu-root" holds gpuKey.
type gpuFixture struct {
	*fixture
	gs   *gpustacktest.Server
	logs *testenv.Buffer // the core's log
}

func setupGPUStack(t *testing.T, withKey bool, change ...func(*app.Config)) *gpuFixture {
	t.Helper()
	gs := gpustacktest.New(t, gpustacktest.Options{Version: "v2.0.1"})
	gs.AddUser("gpu-root", gpuPassword, "GPUStack admin", true, true)
	gs.AddAPIKey("gpu-root", gpuKey)
	env := testenv.New(t, append([]func(*app.Config){func(c *app.Config) {
		c.GPUStackURL = gs.URL()
		if withKey {
			c.GPUStackAPIKey = gpuKey
		}
	}}, change...)...)
	logs := &testenv.Buffer{}
	env = env.With(t, app.Backends{SQL: env.SQL, Redis: env.Redis}, auth.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	env.CreateUser(t, "admin", password, true)
	s := serve(t, env)
	f := &fixture{Served: s, http: s.HTTP(t)}
	f.admin = testenv.Bearer(f.login(t, "admin").AccessToken)
	return &gpuFixture{fixture: f, gs: gs, logs: logs}
}

// gpuLogin adds username to GPUStack and signs them in here, which
// provisions them (source gpustack); then a second passes, so that a
// cleanup's listing is newer than the user.
func (f *gpuFixture) gpuLogin(t *testing.T, username string) auth.TokenPair {
	t.Helper()
	f.gs.AddUser(username, gpuPassword, "", false, true)
	p := f.Login(t, username, gpuPassword)
	if u := f.user(t, username); u.Source != auth.SourceGPUStack {
		t.Fatalf("%s has source %q, want gpustack", username, u.Source)
	}
	f.Clock.Advance(time.Second)
	return p
}

func (f *gpuFixture) user(t *testing.T, name string) auth.User {
	t.Helper()
	u, err := f.SQL.UserByUsername(context.Background(), name)
	if err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	return u
}

func (f *gpuFixture) cleanup(t *testing.T) auth.CleanupResult {
	t.Helper()
	var r auth.CleanupResult
	f.http.Do("POST", "/api/auth/v2/cleanup", nil, f.admin...).Want(200).JSON(&r)
	return r
}

// wantLive checks that p's session still works, its access token and its
// refresh token both.
func (f *gpuFixture) wantLive(t *testing.T, p auth.TokenPair) auth.TokenPair {
	t.Helper()
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(p.AccessToken)...).Want(200)
	return refresh(t, f.fixture, p)
}

// wantEnded checks that p's session is over, for both tokens.
func (f *gpuFixture) wantEnded(t *testing.T, p auth.TokenPair) {
	t.Helper()
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(p.AccessToken)...).Want(401, "invalid_token")
	f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": p.RefreshToken}).Want(401, "invalid_token")
}

// synchronised returns the user.synchronised events cleanup wrote about id.
func (f *gpuFixture) synchronised(t *testing.T, id int64) []auth.Event {
	t.Helper()
	var out []auth.Event
	for _, e := range f.Events(t, auth.EventUserSynchronised) {
		if e.TargetID != nil && *e.TargetID == id && e.Details["by"] == "cleanup" {
			out = append(out, e)
		}
	}
	return out
}

// TestCleanupEndsSessionsOfUsersGPUStackRemoved: with GPUSTACK_API_KEY,
// cleanup deactivates here, and logs out of every session at once, the
// GPUStack users GPUStack deactivated or deleted; the audit log says
// why. Users GPUStack keeps active, and local users, whatever GPUStack
// says of their names, keep their sessions.
func TestCleanupEndsSessionsOfUsersGPUStackRemoved(t *testing.T) {
	f := setupGPUStack(t, true)
	alice := f.gpuLogin(t, "gpu-alice")
	alice2 := f.Login(t, "gpu-alice", gpuPassword) // a second session, on another device
	bob := f.gpuLogin(t, "gpu-bob")
	carol := f.gpuLogin(t, "gpu-carol")
	// Local users: one GPUStack has never heard of, one whose name GPUStack
	// has for a deactivated user of its own.
	f.CreateUser(t, "dave", password, false)
	f.CreateUser(t, "erin", password, false)
	f.gs.AddUser("erin", gpuPassword, "", false, false)
	dave, erin := f.login(t, "dave"), f.login(t, "erin")

	f.gs.UpdateUser("gpu-alice", "", false, false)
	f.gs.DeleteUser("gpu-bob")
	r := f.cleanup(t)
	if r.UpstreamChecked != 3 || r.UpstreamDeactivated != 2 || r.UpstreamFailures != 0 || !r.Complete {
		t.Errorf("result %+v, want 3 checked, 2 deactivated, no failure, complete", r)
	}

	f.wantEnded(t, alice)
	f.wantEnded(t, alice2)
	f.wantEnded(t, bob)
	carol = f.wantLive(t, carol)
	f.wantLive(t, dave)
	f.wantLive(t, erin)
	for _, c := range []struct {
		name, reason string
		sessions     float64
	}{{"gpu-alice", auth.ReasonUpstreamDeactivated, 2}, {"gpu-bob", auth.ReasonUpstreamDeleted, 1}} {
		u := f.user(t, c.name)
		if u.IsActive {
			t.Errorf("%s is still active here", c.name)
		}
		ev := f.synchronised(t, u.ID)
		if len(ev) != 1 {
			t.Fatalf("%s: %d user.synchronised events from cleanup, want 1", c.name, len(ev))
		}
		d := ev[0].Details
		if d["reason"] != c.reason || d["is_active"] != false || d["upstream"] != "gpustack" || d["sessions_revoked"] != c.sessions ||
			!slices.Equal(d["changed"].([]any), []any{"is_active"}) || ev[0].Username != c.name || ev[0].RequestID == "" {
			t.Errorf("%s: event %+v, want reason %s, is_active false, %v sessions revoked, the request id", c.name, ev[0], c.reason, c.sessions)
		}
	}
	for _, name := range []string{"gpu-carol", "dave", "erin"} {
		if u := f.user(t, name); !u.IsActive {
			t.Errorf("%s was deactivated", name)
		} else if ev := f.synchronised(t, u.ID); len(ev) != 0 {
			t.Errorf("%s: events %+v, want none", name, ev)
		}
	}
	run := f.Events(t, auth.EventCleanupRun)[0].Details
	if run["upstream_deactivated"] != 2.0 || run["upstream_checked"] != 3.0 {
		t.Errorf("cleanup.run details %v, want the upstream counts", run)
	}

	// GPUStack re-activates alice: the scheduler's run leaves her
	// deactivated here (only an admin here gives access back), and a
	// sign-in does not re-activate her either.
	f.gs.UpdateUser("gpu-alice", "", false, true)
	r, err := f.Auth.Maintenance.Cleanup(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if r.UpstreamChecked != 1 || r.UpstreamDeactivated != 0 || r.UpstreamFailures != 0 {
		t.Errorf("second run %+v, want carol checked alone, nothing deactivated", r)
	}
	if f.user(t, "gpu-alice").IsActive {
		t.Error("cleanup re-activated gpu-alice")
	}
	f.http.Do("POST", "/api/auth/v2/login", map[string]string{"username": "gpu-alice", "password": gpuPassword}).Want(401, "invalid_credentials")
	f.wantLive(t, carol)
}

// TestCleanupGPUStackFailureChangesNothing: whenever GPUStack's user list
// cannot be read whole, cleanup deactivates no one, ends no session,
// counts the failure and still does the rest of its work; once GPUStack
// answers again, the next run acts.
func TestCleanupGPUStackFailureChangesNothing(t *testing.T) {
	tests := []struct {
		name  string
		fail  func(f *gpuFixture)
		clear func(f *gpuFixture)
	}{
		{"GPUStack down",
			func(f *gpuFixture) { f.gs.SetDown(true) },
			func(f *gpuFixture) { f.gs.SetDown(false) }},
		{"GPUStack slower than GPUSTACK_TIMEOUT",
			func(f *gpuFixture) { f.gs.SetDelay(time.Second) },
			func(f *gpuFixture) { f.gs.SetDelay(0) }},
		{"key refused",
			func(f *gpuFixture) { f.gs.UpdateUser("gpu-root", "GPUStack admin", false, true) },
			func(f *gpuFixture) { f.gs.UpdateUser("gpu-root", "GPUStack admin", true, true) }},
		{"page not JSON",
			func(f *gpuFixture) { f.gs.FailUsersPage(1, gpustacktest.PageMalformed) },
			func(f *gpuFixture) { f.gs.FailUsersPage(1, gpustacktest.PageOK) }},
		{"page short of a user",
			func(f *gpuFixture) { f.gs.FailUsersPage(1, gpustacktest.PageShort) },
			func(f *gpuFixture) { f.gs.FailUsersPage(1, gpustacktest.PageOK) }},
		{"page over the size limit",
			func(f *gpuFixture) { f.gs.FailUsersPage(1, gpustacktest.PageOversized) },
			func(f *gpuFixture) { f.gs.FailUsersPage(1, gpustacktest.PageOK) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setupGPUStack(t, true, func(c *app.Config) { c.GPUStackTimeout = 300 * time.Millisecond })
			alice := f.gpuLogin(t, "gpu-alice")
			f.gs.UpdateUser("gpu-alice", "", false, false)
			tc.fail(f)
			r := f.cleanup(t)
			if r.UpstreamFailures != 1 || r.UpstreamDeactivated != 0 || r.UpstreamChecked != 0 || !r.Complete {
				t.Errorf("result %+v, want 1 upstream failure, nothing checked, the rest complete", r)
			}
			f.wantLive(t, alice)
			if !f.user(t, "gpu-alice").IsActive {
				t.Error("gpu-alice was deactivated on an incomplete listing")
			}
			if ev := f.synchronised(t, f.user(t, "gpu-alice").ID); len(ev) != 0 {
				t.Errorf("events %+v, want none", ev)
			}
			if logs := f.logs.String(); !strings.Contains(logs, `"level":"WARN","msg":"upstream re-check skipped`) || strings.Contains(logs, gpuKey) {
				t.Errorf("core logs %s: want the warning, never the key", logs)
			}

			tc.clear(f)
			if r := f.cleanup(t); r.UpstreamDeactivated != 1 || r.UpstreamFailures != 0 {
				t.Errorf("after GPUStack recovered: %+v, want gpu-alice deactivated", r)
			}
		})
	}
}

// TestCleanupGPUStackBreakerOpen: after repeated failures the circuit
// breaker answers for GPUStack; a run then asks nothing and changes
// nothing.
func TestCleanupGPUStackBreakerOpen(t *testing.T) {
	f := setupGPUStack(t, true)
	alice := f.gpuLogin(t, "gpu-alice")
	f.gs.UpdateUser("gpu-alice", "", false, false)
	f.gs.SetDown(true)
	for range 5 { // gpustack.DefaultFailureThreshold
		f.cleanup(t)
	}
	f.gs.SetDown(false)
	before := f.gs.Requests()
	if r := f.cleanup(t); r.UpstreamFailures != 1 || r.UpstreamDeactivated != 0 {
		t.Errorf("result %+v, want 1 upstream failure", r)
	}
	if f.gs.Requests() != before {
		t.Errorf("GPUStack got %d requests with the circuit open, want 0", f.gs.Requests()-before)
	}
	f.wantLive(t, alice)
}

// TestCleanupKeepsTheLastAdmin: a GPUStack admin who is the last active
// admin here stays active and logged in when GPUStack deactivates them
// (docs/security.md 24); the run says so as a failure.
func TestCleanupKeepsTheLastAdmin(t *testing.T) {
	f := setupGPUStack(t, true)
	f.gs.AddUser("gpu-boss", gpuPassword, "", true, true)
	boss := f.Login(t, "gpu-boss", gpuPassword)
	f.Clock.Advance(time.Second)
	f.gs.UpdateUser("gpu-boss", "", true, false)
	off := false
	if _, err := f.Auth.Admin.UpdateUser(t.Context(), auth.Session{UserID: f.user(t, "gpu-boss").ID}, f.user(t, "admin").ID, auth.UserChange{IsActive: &off}); err != nil {
		t.Fatal(err)
	}
	r, err := f.Auth.Maintenance.Cleanup(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if r.UpstreamChecked != 1 || r.UpstreamDeactivated != 0 || r.UpstreamFailures != 1 {
		t.Errorf("result %+v, want gpu-boss checked, kept, and a failure", r)
	}
	if !f.user(t, "gpu-boss").IsActive {
		t.Error("the last active admin was deactivated")
	}
	f.wantLive(t, boss)
}

// TestCleanupWithoutGPUStackKey: without GPUSTACK_API_KEY cleanup never
// asks GPUStack for its users, so a user GPUStack deactivated keeps their
// session (until they next sign in), and the run reports as before.
func TestCleanupWithoutGPUStackKey(t *testing.T) {
	f := setupGPUStack(t, false)
	alice := f.gpuLogin(t, "gpu-alice")
	f.gs.UpdateUser("gpu-alice", "", false, false)
	r := f.cleanup(t)
	if r.UpstreamChecked != 0 || r.UpstreamDeactivated != 0 || r.UpstreamFailures != 0 {
		t.Errorf("result %+v, want no upstream counts", r)
	}
	if n := f.gs.RequestsTo("/v2/users"); n != 0 {
		t.Errorf("GET /v2/users was asked %d times without a key", n)
	}
	f.wantLive(t, alice)
	if !f.user(t, "gpu-alice").IsActive {
		t.Error("gpu-alice was deactivated")
	}
	for key := range f.Events(t, auth.EventCleanupRun)[0].Details {
		if strings.HasPrefix(key, "upstream_") {
			t.Errorf("cleanup.run details carry %s without a key", key)
		}
	}
}

// TestCleanupSparesUsersNewerThanTheListing: a GPUStack user who signs in
// here for the first time while GPUStack's list is being read may be
// missing from it only for being new; cleanup leaves them alone.
func TestCleanupSparesUsersNewerThanTheListing(t *testing.T) {
	f := setupGPUStack(t, true)
	f.gs.OnUsersPage(func(page int) {
		if page != 1 {
			return
		}
		// As if frank were created in GPUStack just after it answered,
		// and signed in here at once: provisioned here, not in the list.
		f.Clock.Advance(time.Second)
		if _, err := f.SQL.CreateUser(context.Background(), auth.NewUser{Username: "gpu-frank", Source: auth.SourceGPUStack,
			CreatedAt: f.Clock.Now().UTC().Truncate(time.Microsecond)}); err != nil {
			t.Error(err)
		}
	})
	r := f.cleanup(t)
	if r.UpstreamChecked != 0 || r.UpstreamDeactivated != 0 || r.UpstreamFailures != 0 {
		t.Errorf("result %+v, want gpu-frank neither checked nor deactivated", r)
	}
	if !f.user(t, "gpu-frank").IsActive {
		t.Error("gpu-frank, newer than the listing, was deactivated")
	}
	// The next run's listing is newer than frank: absent from it, he goes.
	f.gs.OnUsersPage(nil)
	f.Clock.Advance(time.Second)
	if r := f.cleanup(t); r.UpstreamDeactivated != 1 {
		t.Errorf("next run %+v, want gpu-frank deactivated", r)
	}
}

// TestCleanupGPUStackFitsTheBudget: a GPUStack slower than the whole
// cleanup budget (and than GPUSTACK_TIMEOUT allows here) gets at most half
// of it; the run still ends in time, with its other work done.
func TestCleanupGPUStackFitsTheBudget(t *testing.T) {
	f := setupGPUStack(t, true, func(c *app.Config) { c.GPUStackTimeout = time.Minute })
	alice := f.gpuLogin(t, "gpu-alice")
	f.gs.UpdateUser("gpu-alice", "", false, false)
	f.gs.SetDelay(time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Second) // a budget of 4 s
	defer cancel()
	start := time.Now()
	r, err := f.Auth.Maintenance.Cleanup(ctx)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if r.UpstreamFailures != 1 || r.UpstreamDeactivated != 0 || !r.Complete {
		t.Errorf("result %+v, want 1 upstream failure, the rest complete", r)
	}
	if elapsed < 1500*time.Millisecond || elapsed > 3500*time.Millisecond {
		t.Errorf("Cleanup took %v, want about 2 s (half of its 4 s budget for GPUStack), and under 4 s", elapsed)
	}
	f.gs.SetDelay(0)
	f.wantLive(t, alice)
}
