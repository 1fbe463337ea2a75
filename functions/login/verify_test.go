package login_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"authfn/pkg/app"
	"authfn/pkg/auth"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

const verifyPath = "/api/auth/v2/verify"

// wantVerified fails unless resp is the 200 of /verify for p's session,
// with admin as X-Auth-Admin.
func wantVerified(t *testing.T, resp *testenv.Response, p auth.TokenPair, admin bool) {
	t.Helper()
	resp.Want(200)
	h := resp.Header()
	for name, want := range map[string]string{
		"X-Auth-User-Id":    strconv.FormatInt(p.User.ID, 10),
		"X-Auth-Username":   p.User.Username,
		"X-Auth-Admin":      strconv.FormatBool(admin),
		"X-Auth-Session-Id": p.SessionID,
		"Cache-Control":     "no-store",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if resp.Body.Len() != 0 {
		t.Errorf("body = %q, want empty", resp.Body)
	}
}

// wantDenied fails unless resp is /verify's 401 with the RFC 6750 challenge.
func wantDenied(t *testing.T, resp *testenv.Response) {
	t.Helper()
	resp.Want(401, "invalid_token")
	if got := resp.Header().Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	for _, name := range []string{"X-Auth-User-Id", "X-Auth-Username", "X-Auth-Admin", "X-Auth-Session-Id"} {
		if v := resp.Header().Get(name); v != "" {
			t.Errorf("a denied request carries %s: %q", name, v)
		}
	}
}

// adminClaim is what the access token itself says about admin rights.
func adminClaim(t *testing.T, token string) bool {
	t.Helper()
	parts := strings.Split(token, ".")
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Admin bool `json:"admin"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	return c.Admin
}

func TestVerify(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	f.CreateUser(t, "root", password, true)
	alice, root := f.Login(t, "alice", password), f.Login(t, "root", password)
	verify := func(query string, p auth.TokenPair) *testenv.Response {
		return f.http.Do("GET", verifyPath+query, nil, testenv.Bearer(p.AccessToken)...)
	}

	wantVerified(t, verify("", alice), alice, false)
	wantVerified(t, verify("?admin=false", alice), alice, false)
	wantVerified(t, verify("", root), root, true)
	wantVerified(t, verify("?admin=true", root), root, true)
	resp := verify("?admin=true", alice).Want(403, "forbidden")
	if v := resp.Header().Get("X-Auth-User-Id"); v != "" {
		t.Errorf("a 403 carries X-Auth-User-Id %q", v)
	}
	// Other parameters a proxy might add do not matter.
	wantVerified(t, verify("?admin=true&rd=/x", root), root, true)

	// A parameter that is neither true nor false is a proxy's
	// misconfiguration: refused, with or without a token, never a pass.
	for _, q := range []string{"?admin=yes", "?admin=1", "?admin=TRUE", "?admin=", "?admin=true&admin=false", "?admin=true&admin=true"} {
		verify(q, root).Want(422, "validation_failed")
		f.http.Do("GET", verifyPath+q, nil).Want(422, "validation_failed")
	}

	// HEAD is answered as GET (ServeMux), without a body.
	req := httptest.NewRequest("HEAD", verifyPath+"?admin=true", nil)
	req.Header.Set("Authorization", "Bearer "+root.AccessToken)
	wantVerified(t, f.http.Send(req), root, true)

	f.http.Do("POST", verifyPath, nil, testenv.Bearer(alice.AccessToken)...).Want(405, "method_not_allowed")
}

// TestVerifySeesRevocation: every way a session ends is seen by the very
// next /verify (docs/security.md 33).
func TestVerifySeesRevocation(t *testing.T) {
	off := false
	pw := "reset by an admin"
	for name, end := range map[string]func(f *fixture, p auth.TokenPair) error{
		"logout": func(f *fixture, p auth.TokenPair) error {
			f.http.Do("POST", "/api/auth/v2/logout", nil, testenv.Bearer(p.AccessToken)...).Want(200)
			return nil
		},
		"the admin ends the user's sessions": func(f *fixture, p auth.TokenPair) error {
			_, err := f.Auth.Admin.RevokeSessionsOfUser(context.Background(), f.Actor(t), p.User.ID)
			return err
		},
		"deactivation": func(f *fixture, p auth.TokenPair) error {
			_, err := f.Auth.Admin.UpdateUser(context.Background(), f.Actor(t), p.User.ID, auth.UserChange{IsActive: &off})
			return err
		},
		"password reset": func(f *fixture, p auth.TokenPair) error {
			_, err := f.Auth.Admin.UpdateUser(context.Background(), f.Actor(t), p.User.ID, auth.UserChange{Password: &pw})
			return err
		},
		"deletion": func(f *fixture, p auth.TokenPair) error {
			return f.Auth.Admin.DeleteUser(context.Background(), f.Actor(t), p.User.ID)
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := setup(t)
			f.CreateUser(t, "root", password, true)
			f.CreateUser(t, "alice", password, true)
			p := f.Login(t, "alice", password)
			for _, q := range []string{"", "?admin=true"} {
				wantVerified(t, f.http.Do("GET", verifyPath+q, nil, testenv.Bearer(p.AccessToken)...), p, true)
			}
			if err := end(f, p); err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{"", "?admin=true"} {
				wantDenied(t, f.http.Do("GET", verifyPath+q, nil, testenv.Bearer(p.AccessToken)...))
			}
		})
	}
}

func TestVerifyRejectsBadTokens(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	p := f.Login(t, "alice", password)
	for name, h := range map[string][]string{
		"no token":           nil,
		"empty bearer":       {"Authorization", "Bearer "},
		"basic":              {"Authorization", "Basic YWxpY2U6cGFzc3dvcmQ="},
		"garbage":            testenv.Bearer("garbage"),
		"malformed JWT":      testenv.Bearer("a.b.c"),
		"oversized (9 KiB)":  testenv.Bearer(strings.Repeat("a", 9<<10)),
		"signature tampered": testenv.Bearer(p.AccessToken[:len(p.AccessToken)-2] + "xx"),
		"claims tampered":    testenv.Bearer(tamperAdmin(t, p.AccessToken)),
		"refresh as access":  testenv.Bearer(p.RefreshToken),
	} {
		t.Run(name, func(t *testing.T) {
			wantDenied(t, f.http.Do("GET", verifyPath, nil, h...))
			wantDenied(t, f.http.Do("GET", verifyPath+"?admin=true", nil, h...))
		})
	}
	// The control: the same session's real token passes until it expires.
	wantVerified(t, f.http.Do("GET", verifyPath, nil, testenv.Bearer(p.AccessToken)...), p, false)
	f.Clock.Advance(1806 * time.Second) // past the TTL and the 5 s leeway
	wantDenied(t, f.http.Do("GET", verifyPath, nil, testenv.Bearer(p.AccessToken)...))
}

// TestVerifyFollowsAdminFlag: X-Auth-Admin is the user's current right,
// changed at once on every session by a demotion or a promotion, while the
// old access token's own claim still says what it said at login.
func TestVerifyFollowsAdminFlag(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "root", password, true)
	bob := f.CreateUser(t, "bob", password, true)
	alice := f.CreateUser(t, "alice", password, false)
	bob1, bob2 := f.Login(t, "bob", password), f.Login(t, "bob", password)
	alice1 := f.Login(t, "alice", password)
	verify := func(query string, p auth.TokenPair) *testenv.Response {
		return f.http.Do("GET", verifyPath+query, nil, testenv.Bearer(p.AccessToken)...)
	}
	for _, p := range []auth.TokenPair{bob1, bob2} {
		wantVerified(t, verify("?admin=true", p), p, true)
	}

	no, yes := false, true
	if _, err := f.Auth.Admin.UpdateUser(t.Context(), auth.Session{UserID: f.userID(t, "root")}, bob.ID, auth.UserChange{IsAdmin: &no}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []auth.TokenPair{bob1, bob2} {
		if !adminClaim(t, p.AccessToken) {
			t.Fatal("the old token's claim should still say admin: the test would prove nothing")
		}
		wantVerified(t, verify("", p), p, false)
		verify("?admin=true", p).Want(403, "forbidden")
	}

	if _, err := f.Auth.Admin.UpdateUser(t.Context(), auth.Session{UserID: f.userID(t, "root")}, alice.ID, auth.UserChange{IsAdmin: &yes}); err != nil {
		t.Fatal(err)
	}
	if adminClaim(t, alice1.AccessToken) {
		t.Fatal("alice's token should still say not admin")
	}
	wantVerified(t, verify("?admin=true", alice1), alice1, true)
	// A new login carries the new right too.
	alice2 := f.Login(t, "alice", password)
	wantVerified(t, verify("?admin=true", alice2), alice2, true)

	// A demotion that is refused (the last active admin) leaves the
	// sessions as they were.
	if _, err := f.Auth.Admin.UpdateUser(t.Context(), auth.Session{UserID: f.userID(t, "root")}, f.userID(t, "root"), auth.UserChange{IsAdmin: &no}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Auth.Admin.UpdateUser(t.Context(), auth.Session{UserID: alice.ID}, alice.ID, auth.UserChange{IsAdmin: &no}); auth.ErrorCode(err) != auth.CodeConflict {
		t.Fatalf("demoting the last admin: %v, want conflict", err)
	}
	for _, p := range []auth.TokenPair{alice1, alice2} {
		wantVerified(t, verify("?admin=true", p), p, true)
	}
}

func (f *fixture) userID(t *testing.T, name string) int64 {
	t.Helper()
	u, err := f.SQL.UserByUsername(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestVerifyLoginRacingADemotion: a login that read the user as an admin
// before a demotion, and creates its session after the demotion cleared
// the flag of the user's sessions, must not leave a session that says
// admin.
func TestVerifyLoginRacingADemotion(t *testing.T) {
	env := testenv.New(t)
	root := env.CreateUser(t, "root", password, true)
	alice := env.CreateUser(t, "alice", password, true)
	racing := &changeAfterLookup{Store: env.SQL}
	racing.change = func() {
		no := false
		if _, err := env.Auth.Admin.UpdateUser(context.Background(), auth.Session{UserID: root.ID}, alice.ID, auth.UserChange{IsAdmin: &no}); err != nil {
			t.Errorf("the demotion: %v", err)
		}
	}
	f := serve(t, env.With(t, app.Backends{SQL: racing, Redis: env.Redis}), web.Options{})
	p := f.Login(t, "alice", password)
	if p.User.IsAdmin || adminClaim(t, p.AccessToken) {
		t.Errorf("the racing login answered admin: user %+v", p.User)
	}
	wantVerified(t, f.http.Do("GET", verifyPath, nil, testenv.Bearer(p.AccessToken)...), p, false)
	f.http.Do("GET", verifyPath+"?admin=true", nil, testenv.Bearer(p.AccessToken)...).Want(403, "forbidden")
}

// TestVerifyGPUStackSync: GPUStack's admin flag, synchronised at sign-in,
// reaches the user's earlier sessions at once; a demotion GPUStack may not
// make (the last admin) leaves them admin.
func TestVerifyGPUStackSync(t *testing.T) {
	f := setupGPUStack(t, "v2.0.1", 2*time.Second)
	f.gs.AddUser("gpu-alice", "gpustack password", "Alice", true, true)
	var first auth.TokenPair
	f.loginAs("gpu-alice", "gpustack password").Want(200).JSON(&first)
	verify := func(p auth.TokenPair) *testenv.Response {
		return f.http.Do("GET", verifyPath+"?admin=true", nil, testenv.Bearer(p.AccessToken)...)
	}
	wantVerified(t, verify(first), first, true)

	// gpu-alice is the only admin here: the demotion is not applied.
	f.gs.UpdateUser("gpu-alice", "Alice", false, true)
	f.loginAs("gpu-alice", "gpustack password").Want(200)
	wantVerified(t, verify(first), first, true)

	f.CreateUser(t, "root", password, true)
	var second auth.TokenPair
	f.loginAs("gpu-alice", "gpustack password").Want(200).JSON(&second)
	for _, p := range []auth.TokenPair{first, second} {
		verify(p).Want(403, "forbidden")
	}
	f.gs.UpdateUser("gpu-alice", "Alice", true, true)
	f.loginAs("gpu-alice", "gpustack password").Want(200)
	for _, p := range []auth.TokenPair{first, second} {
		wantVerified(t, verify(p), p, true)
	}
}

// TestVerifyRedisDown: no session can be checked, so nothing passes
// (docs/security.md 33): 503, quickly, and the session is intact after.
func TestVerifyRedisDown(t *testing.T) {
	live := setup(t)
	live.CreateUser(t, "alice", password, true)
	p := live.Login(t, "alice", password)
	f := serve(t, live.Down(t, "redis"), web.Options{})
	for _, q := range []string{"", "?admin=true"} {
		start := time.Now()
		f.http.Do("GET", verifyPath+q, nil, testenv.Bearer(p.AccessToken)...).Want(503, "unavailable")
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %s, want under 5 s", d)
		}
	}
	wantVerified(t, live.http.Do("GET", verifyPath, nil, testenv.Bearer(p.AccessToken)...), p, true)
}

// TestVerifyCost: /verify is one Redis round trip and no PostgreSQL query
// (docs/security.md 33), whether it asks for an admin or not, and whatever
// it answers.
func TestVerifyCost(t *testing.T) {
	c := newCounted(t)
	c.CreateUser(t, "root", password, true)
	c.CreateUser(t, "alice", password, false)
	root, err := c.svc.Login(t.Context(), "root", password)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := c.svc.Login(t.Context(), "alice", password)
	if err != nil {
		t.Fatal(err)
	}
	c.get(t, verifyPath, alice.AccessToken) // warm up the script
	for _, tc := range []struct {
		path, token string
		status      int
	}{
		{verifyPath, alice.AccessToken, 200},
		{verifyPath + "?admin=true", root.AccessToken, 200},
		{verifyPath + "?admin=true", alice.AccessToken, 403},
	} {
		c.trips.Reset()
		if code := c.get(t, tc.path, tc.token); code != tc.status {
			t.Fatalf("GET %s = %d, want %d", tc.path, code, tc.status)
		}
		if c.trips.Redis() != 1 || c.trips.Postgres() != 0 {
			t.Errorf("GET %s (%d): %d Redis round trips and %d PostgreSQL queries, want 1 and 0",
				tc.path, tc.status, c.trips.Redis(), c.trips.Postgres())
		}
	}
}
