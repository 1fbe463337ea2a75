package users_test

import (
	"strings"
	"testing"
	"time"

	"authfn/pkg/testenv"
)

// TestStoreDown: with Redis (sessions) or PostgreSQL (users) down, every
// admin route fails closed with 503 within 5 s, never a 500 or a hang,
// and nothing is written (docs/security.md 27).
func TestStoreDown(t *testing.T) {
	t.Parallel()
	live := setup(t)
	bob := live.mustCreate(t, "bob", "Bob", false)

	for _, store := range testenv.Outages() {
		t.Run(store, func(t *testing.T) {
			f := serve(t, live.Down(t, store))
			for _, rt := range []route{
				{"GET", base + "/users", nil},
				{"POST", base + "/users", map[string]any{"username": "alice", "password": password}},
				{"GET", userPath(bob.ID), nil},
				{"PATCH", userPath(bob.ID), map[string]any{"full_name": "Changed", "is_active": false}},
				{"DELETE", userPath(bob.ID), nil},
				{"GET", base + "/audit", nil},
				{"GET", base + "/stats", nil},
			} {
				start := time.Now()
				r := f.do(t, rt.method, rt.path, rt.body, live.adminAuthz...).Want(503, "unavailable")
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("%s %s took %s, want under 5 s", rt.method, rt.path, took)
				}
				if r.Header().Get("Retry-After") == "" {
					t.Errorf("%s %s: 503 without Retry-After", rt.method, rt.path)
				}
				if strings.Contains(r.Body.String(), testenv.DeadAddr) || strings.Contains(r.Body.String(), "dial") {
					t.Errorf("%s %s: 503 body leaks the cause: %s", rt.method, rt.path, r.Body)
				}
			}
		})
	}
	// Nothing happened, and with both stores back the admin is still logged in.
	if u := live.getUser(t, bob.ID); u.FullName != "Bob" || !u.IsActive {
		t.Errorf("bob = %+v, want unchanged", u)
	}
	if got, _ := live.walk(t, "alice", 10); len(got) != 0 {
		t.Errorf("alice was created while a store was down")
	}
}
