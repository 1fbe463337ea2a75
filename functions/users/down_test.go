package users_test

import (
	"strings"
	"testing"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/postgres"
	"authfn/pkg/redisstore"
)

// deadAddr is a port where nothing listens.
const deadAddr = "127.0.0.1:1"

// TestStoreDown: with Redis (sessions) or PostgreSQL (users) down, every
// admin route fails closed with 503 within 5 s, never a 500 or a hang,
// and nothing is written (SECURITY.md 27).
func TestStoreDown(t *testing.T) {
	t.Parallel()
	live := setup(t)
	bob := live.mustCreate(t, "bob", "Bob", false)

	rc, err := redisstore.NewClient("redis://" + deadAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	deadRedis := redisstore.New(rc, redisstore.Options{Timeout: time.Second})
	deadPG, err := postgres.Open(t.Context(), "postgres://postgres@"+deadAddr+"/authfn?sslmode=disable", postgres.Options{QueryTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(deadPG.Close)

	for _, tc := range []struct {
		name   string
		stores auth.Stores
	}{
		{"redis", auth.Stores{Users: live.SQL, Preferences: live.SQL, Audit: live.SQL, Sessions: deadRedis, Throttle: deadRedis, Locker: deadRedis}},
		{"postgres", auth.Stores{Users: deadPG, Preferences: deadPG, Audit: deadPG, Sessions: live.Sessions, Throttle: live.Sessions, Locker: live.Sessions}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, err := auth.NewService(live.Config, tc.stores, auth.WithClock(live.Clock.Now))
			if err != nil {
				t.Fatal(err)
			}
			env := *live.Env
			env.Auth = svc
			f := serve(t, &env)
			for _, rt := range []route{
				{"GET", base + "/users", nil},
				{"POST", base + "/users", map[string]any{"username": "alice", "password": password}},
				{"GET", userPath(bob.ID), nil},
				{"PATCH", userPath(bob.ID), map[string]any{"full_name": "Changed", "is_active": false}},
				{"DELETE", userPath(bob.ID), nil},
			} {
				start := time.Now()
				r := f.do(t, rt.method, rt.path, rt.body, live.adminAuthz...).Want(503, "unavailable")
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("%s %s took %s, want under 5 s", rt.method, rt.path, took)
				}
				if r.Header().Get("Retry-After") == "" {
					t.Errorf("%s %s: 503 without Retry-After", rt.method, rt.path)
				}
				if strings.Contains(r.Body.String(), deadAddr) || strings.Contains(r.Body.String(), "dial") {
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
