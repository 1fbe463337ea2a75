package login_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/testenv"
)

func TestLogout(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	a, b, c := f.Login(t, "alice", password), f.Login(t, "alice", password), f.Login(t, "alice", password)
	var out struct{ Revoked int }
	f.http.Do("POST", "/api/auth/v2/logout", nil, testenv.Bearer(a.AccessToken)...).Want(200).JSON(&out)
	if out.Revoked != 1 {
		t.Errorf("revoked = %d, want 1", out.Revoked)
	}
	// Takes effect on the next request, for the access and refresh token.
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(a.AccessToken)...).Want(401, "invalid_token")
	f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": a.RefreshToken}).Want(401, "invalid_token")
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(b.AccessToken)...).Want(200)

	f.http.Do("POST", "/api/auth/v2/logout", `{"all":false}`, testenv.Bearer(b.AccessToken)...).Want(200).JSON(&out)
	if out.Revoked != 1 {
		t.Errorf("all=false revoked = %d, want 1", out.Revoked)
	}
	d := f.Login(t, "alice", password)
	f.http.Do("POST", "/api/auth/v2/logout", `{"all":true}`, testenv.Bearer(c.AccessToken)...).Want(200).JSON(&out)
	if out.Revoked != 2 {
		t.Errorf("all=true revoked = %d, want 2 (c and d)", out.Revoked)
	}
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(d.AccessToken)...).Want(401)
	if n := len(f.Events(t, auth.EventLogout)); n != 3 {
		t.Errorf("%d logout events, want 3", n)
	}
}

func TestLogoutBadInput(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	p := f.Login(t, "alice", password)
	bearer := testenv.Bearer(p.AccessToken)
	f.http.Do("POST", "/api/auth/v2/logout", nil).Want(401, "invalid_token")
	f.http.Do("POST", "/api/auth/v2/logout", `{"all":"yes"}`, bearer...).Want(422, "validation_failed")
	f.http.Do("POST", "/api/auth/v2/logout", `{"everything":true}`, bearer...).Want(400, "invalid_request")
	f.http.Do("POST", "/api/auth/v2/logout", `{"all":`, bearer...).Want(400, "invalid_request")
	f.http.Do("POST", "/api/auth/v2/logout", `all=true`, append(bearer, "Content-Type", "application/x-www-form-urlencoded")...).Want(415)
	f.http.Do("POST", "/api/auth/v2/logout", strings.Repeat(" ", 70000), bearer...).Want(413)
	// Nothing was ended by the bad requests.
	f.http.Do("GET", "/api/auth/v2/me", nil, bearer...).Want(200)
}

func TestRefreshRotates(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	p := f.Login(t, "alice", password)
	f.Clock.Advance(time.Hour)
	var q auth.TokenPair
	resp := f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": p.RefreshToken}).Want(200)
	if resp.Header().Get("Cache-Control") != "no-store" {
		t.Error("refresh response is cacheable")
	}
	resp.JSON(&q)
	if q.RefreshToken == p.RefreshToken || q.AccessToken == p.AccessToken || q.SessionID != p.SessionID {
		t.Errorf("refresh did not rotate within the same session")
	}
	if q.RefreshExpiresIn != 7*24*3600 || q.User.Username != "alice" {
		t.Errorf("refresh_expires_in %d user %q", q.RefreshExpiresIn, q.User.Username)
	}
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(q.AccessToken)...).Want(200)
	// An access token is never a refresh token (docs/security.md 12).
	f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": q.AccessToken}).Want(401, "invalid_token")
}

// TestRefreshReuse: within the grace period a rotated token gets 409 and
// the session lives; after it, the whole session is revoked (docs/api.md).
func TestRefreshReuse(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	p := f.Login(t, "alice", password)
	var q auth.TokenPair
	f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": p.RefreshToken}).Want(200).JSON(&q)
	f.Clock.Advance(9 * time.Second)
	f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": p.RefreshToken}).Want(409, "refresh_conflict")
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(q.AccessToken)...).Want(200)

	f.Clock.Advance(2 * time.Second)
	resp := f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": p.RefreshToken}).Want(401, "token_reused")
	if resp.Header().Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	// The newest pair died with the session.
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(q.AccessToken)...).Want(401, "invalid_token")
	f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": q.RefreshToken}).Want(401)
	ev := f.Events(t, auth.EventRefreshReused)
	if len(ev) != 1 || ev[0].IP == "" || ev[0].RequestID == "" {
		t.Errorf("refresh.reused events = %+v, want one with IP and request id", ev)
	}
}

// TestRefreshConcurrent: of 10 concurrent refreshes with one token exactly
// one gets a pair, the rest 409, and the session lives on (docs/security.md 20).
func TestRefreshConcurrent(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	p := f.Login(t, "alice", password)
	var wg sync.WaitGroup
	codes := make([]int, 10)
	pairs := make([]auth.TokenPair, 10)
	start := make(chan struct{})
	for i := range codes {
		wg.Go(func() {
			<-start
			r := f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": p.RefreshToken})
			codes[i] = r.Code
			if r.Code == 200 {
				r.JSON(&pairs[i])
			}
		})
	}
	close(start)
	wg.Wait()
	ok, conflict := 0, 0
	var winner auth.TokenPair
	for i, c := range codes {
		switch c {
		case 200:
			ok++
			winner = pairs[i]
		case 409:
			conflict++
		}
	}
	if ok != 1 || conflict != 9 {
		t.Fatalf("statuses %v: want exactly one 200 and nine 409", codes)
	}
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(winner.AccessToken)...).Want(200)
	f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": winner.RefreshToken}).Want(200)
}

func TestRefreshLifetimes(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	// Idle: a session not refreshed for 7 days ends.
	p := f.Login(t, "alice", password)
	f.Clock.Advance(7*24*time.Hour + time.Second)
	f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": p.RefreshToken}).Want(401, "invalid_token")

	// Absolute: refreshing every 6 days never carries a session past 30.
	p = f.Login(t, "alice", password)
	started := f.Clock.Now()
	tok := p.RefreshToken
	for {
		f.Clock.Advance(6 * 24 * time.Hour)
		resp := f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": tok})
		if resp.Code != 200 {
			if f.Clock.Now().Sub(started) < 30*24*time.Hour {
				t.Fatalf("refresh failed %s into the session", f.Clock.Now().Sub(started))
			}
			resp.Want(401, "invalid_token")
			break
		}
		var q auth.TokenPair
		resp.JSON(&q)
		end := f.Clock.Now().Add(time.Duration(q.RefreshExpiresIn) * time.Second)
		if end.After(started.Add(30*24*time.Hour + time.Second)) {
			t.Fatalf("refresh_expires_in %d carries the session past its absolute end", q.RefreshExpiresIn)
		}
		tok = q.RefreshToken
	}
}

func TestRefreshBadInput(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	p := f.Login(t, "alice", password)
	for name, tc := range map[string]struct {
		body   string
		status int
		code   string
	}{
		"missing":       {`{}`, 422, "validation_failed"},
		"wrong type":    {`{"refresh_token":42}`, 422, "validation_failed"},
		"malformed":     {`{"refresh_token":`, 400, "invalid_request"},
		"unknown field": {`{"refresh_token":"x","scope":"all"}`, 400, "invalid_request"},
		"garbage token": {`{"refresh_token":"garbage"}`, 401, "invalid_token"},
		"forged secret": {`{"refresh_token":"` + p.RefreshToken[:len(p.RefreshToken)-4] + `AAAA"}`, 401, "invalid_token"},
		"huge token":    {`{"refresh_token":"` + strings.Repeat("r", 60000) + `"}`, 401, "invalid_token"},
		"braces in id":  {`{"refresh_token":"r1.1.s_{}AAAAAAAAAAAAAAAAAAAA.` + strings.Repeat("a", 43) + `"}`, 401, "invalid_token"},
	} {
		t.Run(name, func(t *testing.T) {
			f.http.Do("POST", "/api/auth/v2/refresh", tc.body).Want(tc.status, tc.code)
		})
	}
	// A wrong guess at the secret of a live session does not end it.
	f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": p.RefreshToken}).Want(200)
}

func TestRefreshOfDeactivatedUser(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "admin", password, true)
	bob := f.CreateUser(t, "bob", password, false)
	p := f.Login(t, "bob", password)
	off := false
	if _, err := f.Auth.Admin.UpdateUser(t.Context(), f.Actor(t), bob.ID, auth.UserChange{IsActive: &off}); err != nil {
		t.Fatal(err)
	}
	f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": p.RefreshToken}).Want(401, "invalid_token")
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(p.AccessToken)...).Want(401, "invalid_token")
}

func TestMySessions(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	f.CreateUser(t, "bob", password, false)
	a := f.Login(t, "alice", password)
	b := f.Login(t, "alice", password)
	other := f.Login(t, "bob", password)
	var s struct{ Sessions []auth.Session }
	f.http.Do("GET", "/api/auth/v2/me/sessions", nil, testenv.Bearer(a.AccessToken)...).Want(200).JSON(&s)
	if len(s.Sessions) != 2 {
		t.Fatalf("%d sessions, want 2", len(s.Sessions))
	}
	for _, x := range s.Sessions {
		if x.Current != (x.ID == a.SessionID) || x.Username != "alice" || x.ExpiresAt.IsZero() || x.CreatedAt.IsZero() || x.LastSeenAt.IsZero() {
			t.Errorf("session %+v", x)
		}
	}
	// Another user's session is not found, whatever its id.
	f.http.Do("DELETE", "/api/auth/v2/me/sessions/"+other.SessionID, nil, testenv.Bearer(a.AccessToken)...).Want(404, "not_found")
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(other.AccessToken)...).Want(200)
	for _, bad := range []string{"s_AAAAAAAAAAAAAAAAAAAAAA", "nope", "%7B%7D", strings.Repeat("s", 300)} {
		f.http.Do("DELETE", "/api/auth/v2/me/sessions/"+bad, nil, testenv.Bearer(a.AccessToken)...).Want(404, "not_found")
	}
	f.http.Do("DELETE", "/api/auth/v2/me/sessions/"+b.SessionID, nil, testenv.Bearer(a.AccessToken)...).Want(204)
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(b.AccessToken)...).Want(401)
	f.http.Do("DELETE", "/api/auth/v2/me/sessions/"+b.SessionID, nil, testenv.Bearer(a.AccessToken)...).Want(404)
	f.http.Do("GET", "/api/auth/v2/me/sessions", nil).Want(401)
	f.http.Do("DELETE", "/api/auth/v2/me/sessions/"+a.SessionID, nil).Want(401)
}

func TestChangePassword(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	a, b := f.Login(t, "alice", password), f.Login(t, "alice", password)
	bearer := testenv.Bearer(a.AccessToken)
	const next = "a brand new password"
	for name, tc := range map[string]struct {
		body   string
		status int
		code   string
	}{
		"wrong current": {`{"current_password":"wrong one!","new_password":"` + next + `"}`, 401, "invalid_credentials"},
		"short new":     {`{"current_password":"` + password + `","new_password":"short"}`, 422, "validation_failed"},
		"73-byte new":   {`{"current_password":"` + password + `","new_password":"` + strings.Repeat("n", 73) + `"}`, 422, "validation_failed"},
		"missing new":   {`{"current_password":"` + password + `"}`, 422, "validation_failed"},
		"wrong type":    {`{"current_password":"` + password + `","new_password":12345678}`, 422, "validation_failed"},
		"unknown field": {`{"current_password":"x","new_password":"y","user_id":1}`, 400, "invalid_request"},
		"malformed":     {`{"current_password"`, 400, "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			f.http.Do("POST", "/api/auth/v2/me/password", tc.body, bearer...).Want(tc.status, tc.code)
		})
	}
	// None of those changed anything.
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(b.AccessToken)...).Want(200)
	f.http.Do("POST", "/api/auth/v2/me/password", map[string]string{"current_password": password, "new_password": next}, bearer...).Want(204)
	// Every other session ended; this one lives (docs/security.md 4).
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(b.AccessToken)...).Want(401)
	f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": b.RefreshToken}).Want(401)
	f.http.Do("GET", "/api/auth/v2/me", nil, bearer...).Want(200)
	f.http.Do("POST", "/api/auth/v2/login", map[string]string{"username": "alice", "password": password}).Want(401)
	f.Login(t, "alice", next)
	f.http.Do("POST", "/api/auth/v2/me/password", map[string]string{"current_password": password, "new_password": next}).Want(401, "invalid_token")
}

func TestChangePasswordGuessesAreThrottled(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	bearer := testenv.Bearer(f.Login(t, "alice", password).AccessToken)
	for i := 0; i < 5; i++ {
		f.http.Do("POST", "/api/auth/v2/me/password", map[string]string{"current_password": "guess number " + string(rune('a'+i)), "new_password": "whatever123"}, bearer...).Want(401)
	}
	f.http.Do("POST", "/api/auth/v2/me/password", map[string]string{"current_password": password, "new_password": "whatever123"}, bearer...).Want(429, "too_many_requests")
}

// TestRedisFlushOnlyLogsOut: losing Redis state can end sessions but never
// revive a revoked token (docs/security.md 22).
func TestRedisFlushOnlyLogsOut(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	p := f.Login(t, "alice", password)
	f.FlushRedis(t)
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(p.AccessToken)...).Want(401, "invalid_token")
	f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": p.RefreshToken}).Want(401, "invalid_token")
	f.Login(t, "alice", password)
}

func TestJWKS(t *testing.T) {
	f := setup(t)
	f.http.Do("GET", "/api/auth/v2/.well-known/jwks.json", nil).Want(404, "not_found")
}
