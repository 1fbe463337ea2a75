package login_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"authfn/pkg/app"
	"authfn/pkg/auth"
	"authfn/pkg/gpustack"
	"authfn/pkg/gpustack/gpustacktest"
	"authfn/pkg/metrics"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

// upstreamFixture is the login group with GPUStack fallback on, against an
// in-process fake GPUStack that answers as the real one does.
type upstreamFixture struct {
	*fixture
	gs     *gpustacktest.Server
	client *gpustack.Client
	now    *testenv.Clock
}

func setupGPUStack(t *testing.T, version string, timeout time.Duration) *upstreamFixture {
	t.Helper()
	env := testenv.New(t)
	gs := gpustacktest.New(t, gpustacktest.Options{Version: version})
	clock := testenv.NewClock(time.Now())
	client, err := gpustack.New(gpustack.Options{URL: gs.URL(), Timeout: timeout, Now: clock.Now, FailureThreshold: 3, OpenFor: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	env = env.With(t, app.Backends{SQL: env.SQL, Redis: env.Redis}, auth.WithUpstream(client))
	return &upstreamFixture{fixture: serve(t, env, web.Options{}), gs: gs, client: client, now: clock}
}

func (f *upstreamFixture) loginAs(username, pw string) *testenv.Response {
	return f.http.Do("POST", "/api/auth/v2/login", map[string]string{"username": username, "password": pw})
}

func (f *upstreamFixture) userNamed(t *testing.T, name string) auth.User {
	t.Helper()
	u, err := f.SQL.UserByUsername(context.Background(), name)
	if err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	return u
}

// TestGPUStackProvisioning: a user who exists only in GPUStack signs in
// with their GPUStack password and gets this service's tokens; the local
// record follows GPUStack on every later sign-in. Both API versions.
func TestGPUStackProvisioning(t *testing.T) {
	for _, version := range []string{"v0.6.2", "v2.0.1"} {
		t.Run(version, func(t *testing.T) {
			f := setupGPUStack(t, version, 2*time.Second)
			f.CreateUser(t, "admin", password, true) // so that GPUStack may demote gpu-alice (never the last admin)
			f.gs.AddUser("gpu-alice", "gpustack password", "Alice from GPUStack", true, true)
			var p auth.TokenPair
			f.loginAs("gpu-alice", "gpustack password").Want(200).JSON(&p)
			if p.User.Username != "gpu-alice" || p.User.FullName != "Alice from GPUStack" || !p.User.IsAdmin || p.User.Source != "gpustack" {
				t.Errorf("provisioned user = %+v", p.User)
			}
			u := f.userNamed(t, "gpu-alice")
			if u.PasswordHash != "" || u.Source != auth.SourceGPUStack {
				t.Error("a GPUStack user got a local password hash")
			}
			if ev := f.Events(t, auth.EventUserProvisioned); len(ev) != 1 || ev[0].IP == "" {
				t.Errorf("user.provisioned events = %+v", ev)
			}
			// The tokens are this service's, like anyone's.
			f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(p.AccessToken)...).Want(200)
			f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": p.RefreshToken}).Want(200)

			// The right API for the version, and /version asked once.
			want := "/v2/users/me"
			if strings.HasPrefix(version, "v0") {
				want = "/v1/users/me"
			}
			if f.gs.RequestsTo(want) == 0 {
				t.Errorf("GPUStack %s was not asked at %s", version, want)
			}
			// Later sign-ins synchronise name and admin flag.
			f.gs.UpdateUser("gpu-alice", "Alice Renamed", false, true)
			f.loginAs("gpu-alice", "gpustack password").Want(200).JSON(&p)
			if p.User.FullName != "Alice Renamed" || p.User.IsAdmin {
				t.Errorf("after sync = %+v, want renamed and no longer admin", p.User)
			}
			if ev := f.Events(t, auth.EventUserSynchronised); len(ev) != 1 {
				t.Errorf("%d user.synchronised events, want 1", len(ev))
			}
			if n := f.gs.RequestsTo("/version"); n != 1 {
				t.Errorf("/version asked %d times for two sign-ins, want 1 (cached)", n)
			}
			// Its password lives upstream: neither the user nor an admin sets one here.
			f.http.Do("POST", "/api/auth/v2/me/password", map[string]string{"current_password": "gpustack password", "new_password": "a local one!"},
				testenv.Bearer(p.AccessToken)...).Want(409, "conflict")
			pw := "a local password"
			if _, err := f.Auth.Admin.UpdateUser(t.Context(), f.Actor(t), u.ID, auth.UserChange{Password: &pw}); auth.ErrorCode(err) != auth.CodeConflict {
				t.Errorf("admin setting a GPUStack user's password: %v, want conflict", err)
			}
		})
	}
}

// TestGPUStackWrongPassword: the same 401 as any failed login, counted by
// the same throttle.
func TestGPUStackWrongPassword(t *testing.T) {
	f := setupGPUStack(t, "v2.0.1", 2*time.Second)
	f.gs.AddUser("gpu-bob", "gpustack password", "Bob", false, true)
	local := f.loginAs("nobody-at-all", "whatever123").Want(401).Problem()
	for i := 0; i < 5; i++ {
		p := f.loginAs("gpu-bob", "wrong password").Want(401, "invalid_credentials").Problem()
		if p.Detail != local.Detail || p.Title != local.Title {
			t.Errorf("GPUStack refusal %+v differs from an unknown user's %+v", p, local)
		}
	}
	f.loginAs("gpu-bob", "gpustack password").Want(429, "too_many_requests")
	if _, err := f.SQL.UserByUsername(t.Context(), "gpu-bob"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("a refused GPUStack login created a local user: %v", err)
	}
}

// TestGPUStackNeverTakesOverLocalUsers: a local user is checked here only
// and GPUStack is not even asked.
func TestGPUStackNeverTakesOverLocalUsers(t *testing.T) {
	f := setupGPUStack(t, "v2.0.1", 2*time.Second)
	f.CreateUser(t, "alice", password, false)
	f.gs.AddUser("alice", "the gpustack password", "Impostor", true, true)
	f.loginAs("alice", "the gpustack password").Want(401, "invalid_credentials")
	if n := f.gs.Requests(); n != 0 {
		t.Errorf("GPUStack asked %d times about a local user", n)
	}
	var p auth.TokenPair
	f.loginAs("alice", password).Want(200).JSON(&p)
	if p.User.IsAdmin || p.User.Source != "local" || p.User.FullName == "Impostor" {
		t.Errorf("local user after GPUStack login attempts = %+v", p.User)
	}
}

// TestGPUStackDeactivation: a user deactivated in GPUStack cannot sign in
// here. GPUStack answers a deactivated user's credentials with 401, so the
// login fails like a wrong password; when it does send the profile with
// is_active false (as docs/api.md's fallback describes), the local record is
// deactivated and every session here ends.
func TestGPUStackDeactivation(t *testing.T) {
	f := setupGPUStack(t, "v2.0.1", 2*time.Second)
	f.gs.AddUser("gpu-carol", "gpustack password", "Carol", false, true)
	var p auth.TokenPair
	f.loginAs("gpu-carol", "gpustack password").Want(200).JSON(&p)
	f.gs.UpdateUser("gpu-carol", "Carol", false, false)
	f.loginAs("gpu-carol", "gpustack password").Want(401, "invalid_credentials")
	t.Run("profile says inactive", func(t *testing.T) {
		env := f.Env
		up := &fixedUpstream{user: auth.UpstreamUser{Username: "gpu-carol", FullName: "Carol", IsActive: false}}
		svc := env.With(t, app.Backends{SQL: env.SQL, Redis: env.Redis}, auth.WithUpstream(up)).Auth.Sessions
		if _, err := svc.Login(t.Context(), "gpu-carol", "gpustack password"); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("login of a user GPUStack says is inactive: %v, want invalid credentials", err)
		}
		if u := f.userNamed(t, "gpu-carol"); u.IsActive {
			t.Error("the local record is still active")
		}
		f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(p.AccessToken)...).Want(401, "invalid_token")
		f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": p.RefreshToken}).Want(401)
	})
}

// fixedUpstream vouches for one profile whatever the password.
type fixedUpstream struct{ user auth.UpstreamUser }

func (u *fixedUpstream) Source() string { return auth.SourceGPUStack }
func (u *fixedUpstream) Authenticate(context.Context, string, string) (auth.UpstreamUser, error) {
	return u.user, nil
}

// TestGPUStackFirstAdminBug: GPUStack before 2.2 answers unauthenticated
// requests from its own host with its first admin's profile. That must
// never sign anybody in, least of all as that admin.
func TestGPUStackFirstAdminBug(t *testing.T) {
	f := setupGPUStack(t, "v2.0.1", 2*time.Second)
	f.gs.AddUser("gpu-root", "root's real password", "Root", true, true)
	f.gs.AnswerFirstAdminToLocalhost(true)
	for _, name := range []string{"gpu-root", "gpu-mallory"} {
		if code := f.loginAs(name, "any password at all").Code; code == 200 {
			t.Fatalf("login as %s with a wrong password succeeded", name)
		}
	}
	if _, err := f.SQL.UserByUsername(t.Context(), "gpu-root"); !errors.Is(err, auth.ErrNotFound) {
		t.Error("the first-admin answer provisioned a user")
	}
}

// TestGPUStackDown: 503 only for logins that need GPUStack; a timeout
// bounds a slow GPUStack and the breaker then answers at once; local
// users sign in in their usual time throughout.
func TestGPUStackDown(t *testing.T) {
	const timeout = time.Second
	f := setupGPUStack(t, "v2.0.1", timeout)
	f.CreateUser(t, "alice", password, false)
	f.gs.AddUser("gpu-dave", "gpustack password", "Dave", false, true)
	f.gs.SetDelay(10 * time.Second)

	// Slow: the fallback path gives up at the timeout with 503.
	start := time.Now()
	f.loginAs("gpu-dave", "gpustack password").Want(503, "unavailable")
	if took := time.Since(start); took > timeout+2*time.Second {
		t.Errorf("a login needing a slow GPUStack took %s, want about the %s timeout", took, timeout)
	}
	// A local login meanwhile does not wait for GPUStack at all.
	before := f.gs.Requests()
	start = time.Now()
	f.Login(t, "alice", password)
	if took := time.Since(start); took >= timeout {
		t.Errorf("a local login took %s while GPUStack hung, want well under the %s timeout", took, timeout)
	}
	if f.gs.Requests() != before {
		t.Error("a local login asked GPUStack")
	}
	// Two more failures open the breaker (threshold 3); then no request
	// reaches GPUStack and the answer is immediate.
	for i := 0; i < 2; i++ {
		f.loginAs("gpu-dave", "gpustack password").Want(503)
	}
	f.gs.SetDelay(0)
	f.gs.SetDown(true)
	before = f.gs.Requests()
	start = time.Now()
	f.loginAs("gpu-dave", "gpustack password").Want(503, "unavailable")
	if f.gs.Requests() != before {
		t.Error("the open breaker let a request through")
	}
	if took := time.Since(start); took >= timeout {
		t.Errorf("an open breaker answered in %s, want at once", took)
	}
	if ev := f.Events(t, auth.EventUpstreamFailed); len(ev) < 3 {
		t.Errorf("%d upstream.failed events, want one per failed fallback", len(ev))
	}
	// GPUStack back, the breaker's pause over: the fallback works again.
	f.gs.SetDown(false)
	f.now.Advance(31 * time.Second)
	f.loginAs("gpu-dave", "gpustack password").Want(200)
	f.Login(t, "alice", password)
}

// TestGPUStackConcurrentFirstLogins: two first sign-ins at once make one
// local user, not an error.
func TestGPUStackConcurrentFirstLogins(t *testing.T) {
	f := setupGPUStack(t, "v2.0.1", 2*time.Second)
	f.gs.AddUser("gpu-erin", "gpustack password", "Erin", false, true)
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Go(func() { codes[i] = f.loginAs("gpu-erin", "gpustack password").Code })
	}
	wg.Wait()
	for _, c := range codes {
		if c != http.StatusOK {
			t.Errorf("concurrent first logins answered %v, want all 200", codes)
			break
		}
	}
	if n := len(f.Events(t, auth.EventUserProvisioned)); n != 1 {
		t.Errorf("%d user.provisioned events, want 1", n)
	}
}

// TestGPUStackCannotDemoteTheLastAdmin: synchronising never leaves the
// service without an active admin; the other changes still apply.
func TestGPUStackCannotDemoteTheLastAdmin(t *testing.T) {
	f := setupGPUStack(t, "v2.0.1", 2*time.Second)
	f.gs.AddUser("gpu-root", "gpustack password", "Root", true, true)
	f.loginAs("gpu-root", "gpustack password").Want(200)
	f.gs.UpdateUser("gpu-root", "Root Renamed", false, true)
	var p auth.TokenPair
	f.loginAs("gpu-root", "gpustack password").Want(200).JSON(&p)
	if !p.User.IsAdmin || p.User.FullName != "Root Renamed" {
		t.Errorf("last admin after a GPUStack demotion = %+v, want still admin, renamed", p.User)
	}
}

// TestGPUStackUsernamesDifferingInCase: GPUStack on PostgreSQL or SQLite
// holds "Bob" and "bob" as two users, while names here are unique without
// regard to case. One of them signing in with their own password must never
// get the other's local account, neither when it exists already nor when
// both sign in for the first time at once.
func TestGPUStackUsernamesDifferingInCase(t *testing.T) {
	t.Run("existing", func(t *testing.T) {
		f := setupGPUStack(t, "v2.0.1", 2*time.Second)
		f.CreateUser(t, "admin", password, true)
		f.gs.AddUser("Bob", "bob's password", "Bob", true, true)
		f.gs.AddUser("bob", "mallory's password", "Mallory", false, true)
		var bob auth.TokenPair
		f.loginAs("Bob", "bob's password").Want(200).JSON(&bob)
		f.loginAs("bob", "mallory's password").Want(401, "invalid_credentials")
		if u := f.userNamed(t, "Bob"); u.FullName != "Bob" || !u.IsAdmin || u.ID != bob.User.ID {
			t.Errorf("Bob's record after the other bob signed in = %+v", u)
		}
		f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(bob.AccessToken)...).Want(200)
	})
	t.Run("first sign-ins at once", func(t *testing.T) {
		f := setupGPUStack(t, "v2.0.1", 2*time.Second)
		f.gs.AddUser("Bob", "bob's password", "Bob", true, true)
		f.gs.AddUser("bob", "mallory's password", "Mallory", false, true)
		// Both logins look the name up before either provisions it.
		f.gs.SetDelay(300 * time.Millisecond)
		var wg sync.WaitGroup
		resp := map[string]*testenv.Response{}
		var mu sync.Mutex
		for name, pw := range map[string]string{"Bob": "bob's password", "bob": "mallory's password"} {
			wg.Go(func() {
				r := f.loginAs(name, pw)
				mu.Lock()
				resp[name] = r
				mu.Unlock()
			})
		}
		wg.Wait()
		for name, r := range resp {
			if r.Code != http.StatusOK {
				continue
			}
			var p auth.TokenPair
			r.JSON(&p)
			if p.User.Username != name {
				t.Errorf("%s signed in as local user %q", name, p.User.Username)
			}
		}
	})
}

// TestGPUStackDoesNotUndoLocalDeactivation: an admin here deactivates a
// GPUStack user; their next GPUStack sign-in must not reactivate them.
// Their admin rights are GPUStack's to set, so changing them here is 409
// rather than a change the next sign-in would silently undo.
func TestGPUStackDoesNotUndoLocalDeactivation(t *testing.T) {
	f := setupGPUStack(t, "v2.0.1", 2*time.Second)
	f.CreateUser(t, "admin", password, true)
	f.gs.AddUser("gpu-frank", "gpustack password", "Frank", false, true)
	f.loginAs("gpu-frank", "gpustack password").Want(200)
	u := f.userNamed(t, "gpu-frank")
	off, on := false, true
	if _, err := f.Auth.Admin.UpdateUser(t.Context(), f.Actor(t), u.ID, auth.UserChange{IsAdmin: &on}); auth.ErrorCode(err) != auth.CodeConflict {
		t.Errorf("promoting a GPUStack user here: %v, want conflict", err)
	}
	if _, err := f.Auth.Admin.UpdateUser(t.Context(), f.Actor(t), u.ID, auth.UserChange{IsActive: &off}); err != nil {
		t.Fatal(err)
	}
	f.loginAs("gpu-frank", "gpustack password").Want(401, "invalid_credentials")
	if f.userNamed(t, "gpu-frank").IsActive {
		t.Error("a GPUStack sign-in reactivated a user deactivated here")
	}
}

// TestGPUStackDownIsCountedApart: a login that fails because GPUStack
// cannot be asked is the same 503 unavailable to the client as a store
// outage, but the metrics tell the two apart, so an operator sees whose
// outage it is.
func TestGPUStackDownIsCountedApart(t *testing.T) {
	env := testenv.New(t)
	gs := gpustacktest.New(t, gpustacktest.Options{Version: "v2.0.1"})
	gs.AddUser("gpu-dave", "gpustack password", "Dave", false, true)
	client, err := gpustack.New(gpustack.Options{URL: gs.URL(), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m, scrape := testenv.NewMetrics(t)
	f := serve(t, env.With(t, app.Backends{SQL: env.SQL, Redis: env.Redis, Metrics: m}, auth.WithUpstream(client)), web.Options{})
	login := func(want int, code ...string) {
		f.http.Do("POST", "/api/auth/v2/login", map[string]string{"username": "gpu-dave", "password": "gpustack password"}).Want(want, code...)
	}
	login(200)
	gs.SetDown(true)
	login(503, "unavailable")
	s := scrape()
	for outcome, want := range map[string]float64{"succeeded": 1, "upstream_unavailable": 1, "unavailable": 0, "error": 0} {
		if got := s.Value(metrics.NameLogins, "outcome", outcome); got != want {
			t.Errorf("logins{outcome=%s} = %v, want %v", outcome, got, want)
		}
	}
}
