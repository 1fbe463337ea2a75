package login_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"authfn/pkg/auth"
	"authfn/pkg/postgres"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

// counted is the login group on stores whose round trips are counted.
type counted struct {
	*testenv.Env
	h     http.Handler
	trips *testenv.RoundTrips
	svc   *auth.Sessions
	pg    *postgres.Store
}

func newCounted(tb testing.TB) *counted {
	tb.Helper()
	env, trips := testenv.Counted(tb)
	return &counted{Env: env, h: env.Serve(tb, web.Options{}, "LoginFunction").Handler, trips: trips, svc: env.Auth.Sessions, pg: env.SQL}
}

func (c *counted) get(tb testing.TB, path, token string) int {
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	return rec.Code
}

// TestAuthenticatedRequestCost holds docs/architecture.md's floor: an authenticated
// request is one Redis round trip (check and touch together), and GET /me
// adds one PostgreSQL primary-key read, nothing else.
func TestAuthenticatedRequestCost(t *testing.T) {
	c := newCounted(t)
	c.CreateUser(t, "alice", password, false)
	p, err := c.svc.Login(t.Context(), "alice", password)
	if err != nil {
		t.Fatal(err)
	}
	// Warm up every route counted below: the first run of a Lua script
	// on a Redis that has not seen it costs an extra round trip (EVALSHA
	// answered NOSCRIPT, then EVAL), which is not the request's cost.
	c.get(t, "/api/auth/v2/me", p.AccessToken)
	c.get(t, "/api/auth/v2/me/sessions", p.AccessToken)
	for _, tc := range []struct {
		path        string
		redis, pg   int64
		description string
	}{
		{"/api/auth/v2/me", 1, 1, "session check + one primary-key read"},
		{"/api/auth/v2/me/sessions", 2, 0, "session check + one listing script"},
	} {
		c.trips.Reset()
		if code := c.get(t, tc.path, p.AccessToken); code != 200 {
			t.Fatalf("GET %s = %d", tc.path, code)
		}
		if c.trips.Redis() != tc.redis || c.trips.Postgres() != tc.pg {
			t.Errorf("GET %s: %d Redis round trips and %d PostgreSQL queries, want %d and %d (%s)",
				tc.path, c.trips.Redis(), c.trips.Postgres(), tc.redis, tc.pg, tc.description)
		}
	}
}

// TestLoginCost holds a password login to its round trips: one Redis
// script counts the attempt under all three throttle keys (address, pair,
// username ceiling) and one gives it back, two create the session (its
// index entries, then the session itself); PostgreSQL reads the user,
// records the login (returning the record an admin's rights are
// confirmed against, without another read) and writes the audit event.
func TestLoginCost(t *testing.T) {
	c := newCounted(t)
	c.CreateUser(t, "root", password, true)
	c.CreateUser(t, "alice", password, false)
	login := func(name string) {
		t.Helper()
		req := httptest.NewRequest("POST", "/api/auth/v2/login", strings.NewReader(`{"username":"`+name+`","password":"`+password+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "203.0.113.9:4242"
		rec := httptest.NewRecorder()
		c.h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("login %s = %d %s", name, rec.Code, rec.Body)
		}
	}
	login("alice") // warm up the scripts (see TestAuthenticatedRequestCost)
	for _, name := range []string{"alice", "root"} {
		c.trips.Reset()
		login(name)
		if c.trips.Redis() != 4 || c.trips.Postgres() != 3 {
			t.Errorf("login of %s: %d Redis round trips and %d PostgreSQL queries, want 4 and 3",
				name, c.trips.Redis(), c.trips.Postgres())
		}
	}
}

// BenchmarkRequest measures an authenticated request next to the round
// trips it is made of, so that `make bench` can report ratios measured in
// one run: Me/RedisPing and Me/(RedisPing+PostgresSelect).
func BenchmarkRequest(b *testing.B) {
	c := newCounted(b)
	ctx := context.Background()
	c.CreateUser(b, "alice", password, false)
	p, err := c.svc.Login(ctx, "alice", password)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("RedisPing", func(b *testing.B) {
		for b.Loop() {
			if err := c.App.Stores.Sessions.Ping(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("PostgresPing", func(b *testing.B) {
		for b.Loop() {
			if err := c.pg.Ping(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Authenticate", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.svc.Authenticate(ctx, p.AccessToken); err != nil {
				b.Fatal(err)
			}
		}
	})
	for name, path := range map[string]string{"Me": "/api/auth/v2/me", "MySessions": "/api/auth/v2/me/sessions"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if code := c.get(b, path, p.AccessToken); code != 200 {
					b.Fatalf("status %d", code)
				}
			}
		})
	}
}
