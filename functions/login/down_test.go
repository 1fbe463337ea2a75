package login_test

import (
	"strings"
	"testing"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

// TestRedisDown: every login and authenticated request fails closed with
// 503, never 200, never a hang (docs/security.md 27).
func TestRedisDown(t *testing.T) {
	live := setup(t)
	live.CreateUser(t, "alice", password, false)
	p := live.Login(t, "alice", password)

	f := serve(t, live.Down(t, "redis"), web.Options{})
	bearer := testenv.Bearer(p.AccessToken)
	for name, do := range map[string]func() *testenv.Response{
		"login": func() *testenv.Response {
			return f.http.Do("POST", "/api/auth/v2/login", map[string]string{"username": "alice", "password": password})
		},
		"wrong password": func() *testenv.Response {
			return f.http.Do("POST", "/api/auth/v2/login", map[string]string{"username": "alice", "password": "nope nope"})
		},
		"me": func() *testenv.Response { return f.http.Do("GET", "/api/auth/v2/me", nil, bearer...) },
		"refresh": func() *testenv.Response {
			return f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": p.RefreshToken})
		},
		"logout":   func() *testenv.Response { return f.http.Do("POST", "/api/auth/v2/logout", nil, bearer...) },
		"sessions": func() *testenv.Response { return f.http.Do("GET", "/api/auth/v2/me/sessions", nil, bearer...) },
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			resp := do().Want(503, "unavailable")
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %s, want under 5 s", time.Since(start))
			}
			if strings.Contains(resp.Body.String(), testenv.DeadAddr) || strings.Contains(resp.Body.String(), "dial") {
				t.Errorf("503 body leaks the cause: %s", resp.Body)
			}
		})
	}
	// Once Redis is back, the session is still there: nothing was lost.
	live.http.Do("GET", "/api/auth/v2/me", nil, bearer...).Want(200)
}

// TestPostgresDown: 503 within 5 s (docs/security.md 27).
func TestPostgresDown(t *testing.T) {
	live := setup(t)
	live.CreateUser(t, "alice", password, false)
	p := live.Login(t, "alice", password)
	f := serve(t, live.Down(t, "postgres"), web.Options{})
	for name, do := range map[string]func() *testenv.Response{
		"login": func() *testenv.Response {
			return f.http.Do("POST", "/api/auth/v2/login", map[string]string{"username": "alice", "password": password})
		},
		"me": func() *testenv.Response {
			return f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(p.AccessToken)...)
		},
		"refresh": func() *testenv.Response {
			return f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": p.RefreshToken})
		},
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			do().Want(503, "unavailable")
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %s, want under 5 s", time.Since(start))
			}
		})
	}
	// Routes that need only Redis keep working.
	f.http.Do("GET", "/api/auth/v2/me/sessions", nil, testenv.Bearer(p.AccessToken)...).Want(200)
}

// TestNoSecretsInLogs: passwords and tokens never reach the log (docs/security.md 25).
func TestNoSecretsInLogs(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	p := f.Login(t, "alice", password)
	f.http.Do("POST", "/api/auth/v2/login", map[string]string{"username": "alice", "password": "my wrong secret"}).Want(401)
	var q auth.TokenPair
	f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": p.RefreshToken}).Want(200).JSON(&q)
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(q.AccessToken)...).Want(200)
	f.http.Do("POST", "/api/auth/v2/me/password", map[string]string{"current_password": password, "new_password": "the next secret"}, testenv.Bearer(q.AccessToken)...).Want(204)
	logs := f.logs.String()
	if !strings.Contains(logs, `"request_id"`) {
		t.Fatalf("no request logs captured: %q", logs)
	}
	for _, secret := range []string{password, "my wrong secret", "the next secret", p.AccessToken, p.RefreshToken, q.AccessToken, q.RefreshToken, p.SessionID} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains a secret (%.12s...)", secret)
		}
	}
}
