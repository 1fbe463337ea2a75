package users_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/testenv"
)

// TestAdminOnly: every route of the group needs an admin's valid token:
// none, a bad or a revoked one is 401 with WWW-Authenticate, a non-admin's
// is 403 (docs/security.md 23), and none of them changes anything.
func TestAdminOnly(t *testing.T) {
	t.Parallel()
	f := setup(t)
	alice := f.mustCreate(t, "alice", "Alice", false)
	plain := f.Login(t, "alice", password)
	revoked := f.Login(t, "root", adminPassword)
	f.do(t, "POST", base+"/logout", nil, testenv.Bearer(revoked.AccessToken)...).Want(200)
	before, _ := f.walk(t, "", 200)

	routes := []route{
		{"GET", base + "/users", nil},
		{"POST", base + "/users", map[string]any{"username": "mallory", "password": password, "is_admin": true}},
		{"GET", userPath(alice.ID), nil},
		{"PATCH", userPath(alice.ID), map[string]any{"is_admin": true}},
		{"DELETE", userPath(alice.ID), nil},
		{"GET", base + "/audit", nil},
		{"GET", base + "/audit?type=no.such.type", nil}, // refused before it is read
		{"GET", base + "/stats", nil},
	}
	callers := []struct {
		name    string
		headers []string
		status  int
		code    string
	}{
		{"no token", nil, 401, "invalid_token"},
		{"not a JWT", testenv.Bearer("garbage"), 401, "invalid_token"},
		{"basic auth", []string{"Authorization", "Basic cm9vdDphZG1pbg=="}, 401, "invalid_token"},
		{"revoked admin token", testenv.Bearer(revoked.AccessToken), 401, "invalid_token"},
		{"refresh token as bearer", testenv.Bearer(f.adminPair.RefreshToken), 401, "invalid_token"},
		{"non-admin", testenv.Bearer(plain.AccessToken), 403, "forbidden"},
	}
	for _, rt := range routes {
		for _, c := range callers {
			t.Run(rt.method+" "+rt.path+"/"+c.name, func(t *testing.T) {
				r := f.do(t, rt.method, rt.path, rt.body, c.headers...).Want(c.status, c.code)
				if c.status == 401 {
					if got, want := r.Header().Get("WWW-Authenticate"), `Bearer error="invalid_token"`; got != want {
						t.Errorf("WWW-Authenticate = %q, want %q", got, want)
					}
				}
			})
		}
	}
	after, _ := f.walk(t, "", 200)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("refused requests changed users (-before +after):\n%s", diff)
	}
	f.do(t, "GET", base+"/me", nil, testenv.Bearer(plain.AccessToken)...).Want(200)
}
