package sessions_test

import (
	"strings"
	"testing"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/testenv"
)

// TestAdminOnly: every route of the group needs an admin's valid token:
// none, a bad or a revoked one is 401 with WWW-Authenticate, a non-admin's
// (or a demoted admin's) is 403, and none of them ends a session.
func TestAdminOnly(t *testing.T) {
	t.Parallel()
	f := setup(t)
	alice := f.user(t, "alice")
	plain := f.Login(t, "alice", password)
	revoked := f.Login(t, "root", adminPassword)
	f.do(t, "POST", base+"/logout", nil, testenv.Bearer(revoked.AccessToken)...).Want(200)
	f.CreateUser(t, "demoted", password, true)
	demoted := f.Login(t, "demoted", password)
	if _, err := f.Auth.Admin.UpdateUser(t.Context(), f.Actor(t), demoted.User.ID, auth.UserChange{IsAdmin: new(false)}); err != nil {
		t.Fatal(err)
	}

	routes := []struct{ method, path string }{
		{"GET", base + "/sessions"},
		{"GET", sessionsPath(alice.ID)},
		{"DELETE", sessionsPath(alice.ID)},
	}
	callers := []struct {
		name    string
		headers []string
		status  int
		code    string
	}{
		{"no token", nil, 401, "invalid_token"},
		{"not a JWT", testenv.Bearer("garbage"), 401, "invalid_token"},
		{"revoked admin token", testenv.Bearer(revoked.AccessToken), 401, "invalid_token"},
		{"refresh token as bearer", testenv.Bearer(f.adminPair.RefreshToken), 401, "invalid_token"},
		{"non-admin", testenv.Bearer(plain.AccessToken), 403, "forbidden"},
		{"demoted admin", testenv.Bearer(demoted.AccessToken), 403, "forbidden"},
	}
	for _, rt := range routes {
		for _, c := range callers {
			t.Run(rt.method+" "+rt.path+"/"+c.name, func(t *testing.T) {
				r := f.do(t, rt.method, rt.path, nil, c.headers...).Want(c.status, c.code)
				if c.status == 401 {
					if got, want := r.Header().Get("WWW-Authenticate"), `Bearer error="invalid_token"`; got != want {
						t.Errorf("WWW-Authenticate = %q, want %q", got, want)
					}
				}
			})
		}
	}
	// Alice's session survived every refused DELETE.
	f.do(t, "GET", base+"/me", nil, testenv.Bearer(plain.AccessToken)...).Want(200)
}

// TestStoreDown: with Redis or PostgreSQL down every route of the group
// fails closed with 503 within 5 s (docs/security.md 27).
func TestStoreDown(t *testing.T) {
	t.Parallel()
	live := setup(t)
	alice := live.user(t, "alice")
	a := live.Login(t, "alice", password)

	for _, store := range testenv.Outages() {
		t.Run(store, func(t *testing.T) {
			f := serve(t, live.Down(t, store))
			for _, rt := range []struct{ method, path string }{
				{"GET", base + "/sessions"},
				{"GET", sessionsPath(alice.ID)},
				{"DELETE", sessionsPath(alice.ID)},
			} {
				start := time.Now()
				r := f.do(t, rt.method, rt.path, nil, live.adminAuthz...).Want(503, "unavailable")
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("%s %s took %s, want under 5 s", rt.method, rt.path, took)
				}
				if strings.Contains(r.Body.String(), testenv.DeadAddr) || strings.Contains(r.Body.String(), "dial") {
					t.Errorf("503 body leaks the cause: %s", r.Body)
				}
			}
		})
	}
	// Nothing was revoked by the failed requests.
	live.do(t, "GET", base+"/me", nil, testenv.Bearer(a.AccessToken)...).Want(200)
	if got := live.userSessions(t, alice.ID); len(got) != 1 {
		t.Errorf("alice has %d sessions after the outage, want 1", len(got))
	}
}
