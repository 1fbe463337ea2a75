package login_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

const tokenPath = "/api/auth/v2/token"

func passwordForm(username, pw string, extra ...string) string {
	v := url.Values{"grant_type": {"password"}, "username": {username}, "password": {pw}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v.Encode()
}

func refreshForm(token string) string {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}.Encode()
}

// TestTokenPasswordGrant: the password grant answers /login's token pair,
// with RFC 6749 §5.1's headers, and the optional fields of the grant (and
// unknown ones, RFC 6749 §3.2) change nothing.
func TestTokenPasswordGrant(t *testing.T) {
	f := setup(t)
	alice := f.CreateUser(t, "alice", password, false)
	for name, body := range map[string]string{
		"plain":            passwordForm("alice", password),
		"optional fields":  passwordForm("alice", password, "scope", "openid profile", "client_id", "cli", "client_secret", "shh"),
		"unknown field":    passwordForm("alice", password, "audience", "elsewhere"),
		"charset in ctype": passwordForm("alice", password),
	} {
		t.Run(name, func(t *testing.T) {
			ct := "application/x-www-form-urlencoded"
			if name == "charset in ctype" {
				ct += "; charset=UTF-8"
			}
			resp := f.form(t, tokenPath, body, "Content-Type", ct).Want(200)
			for h, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": "application/json"} {
				if got := resp.Header().Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			var p auth.TokenPair
			resp.JSON(&p)
			if p.TokenType != "bearer" || p.ExpiresIn != 1800 || p.User.ID != alice.ID || !strings.HasPrefix(p.SessionID, "s_") || p.RefreshToken == "" {
				t.Errorf("pair = %+v, want alice's bearer pair", p)
			}
			f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(p.AccessToken)...).Want(200)
		})
	}
	// The same audit trail as /login.
	if got := len(f.Events(t, auth.EventLoginSucceeded)); got != 4 {
		t.Errorf("%d login.succeeded events, want 4", got)
	}
}

// TestTokenRefreshGrant: the refresh grant rotates like /refresh: the new
// pair is of the same session, the presented token stops working.
func TestTokenRefreshGrant(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	first := f.Login(t, "alice", password)

	var next auth.TokenPair
	f.form(t, tokenPath, refreshForm(first.RefreshToken)+"&scope=x&client_id=cli&client_secret=s").Want(200).JSON(&next)
	if next.SessionID != first.SessionID || next.RefreshToken == first.RefreshToken || next.TokenType != "bearer" {
		t.Errorf("refreshed pair = %+v, want a new refresh token of session %s", next, first.SessionID)
	}
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(next.AccessToken)...).Want(200)
	// The pair from /token refreshes at /refresh too, and the reverse: one rotation.
	var third auth.TokenPair
	f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": next.RefreshToken}).Want(200).JSON(&third)
	f.form(t, tokenPath, refreshForm(third.RefreshToken)).Want(200)
}

// TestTokenInvalidGrantOneBody holds docs/security.md 32: every credential
// and refresh-token failure is the same 400 invalid_grant, byte for byte
// but the request id, and a credential failure is /login's (counted and
// audited with its reason, after the same work).
func TestTokenInvalidGrantOneBody(t *testing.T) {
	f := setup(t)
	alice := f.CreateUser(t, "alice", password, false)
	bob := f.CreateUser(t, "bob", password, false)
	off := false
	if _, err := f.Auth.Admin.UpdateUser(t.Context(), f.Actor(t), bob.ID, auth.UserChange{IsActive: &off}); err != nil {
		t.Fatal(err)
	}
	// A refresh token rotated once: within the grace it is a conflict
	// (409 at /refresh), after it reuse (401 token_reused at /refresh).
	conflicted := f.Login(t, "alice", password)
	f.form(t, tokenPath, refreshForm(conflicted.RefreshToken)).Want(200)
	reused := f.Login(t, "alice", password)
	f.form(t, tokenPath, refreshForm(reused.RefreshToken)).Want(200)
	revoked := f.Login(t, "alice", password)
	f.http.Do("POST", "/api/auth/v2/logout", nil, testenv.Bearer(revoked.AccessToken)...).Want(200)
	forged := forgeRefresh(t, f.Login(t, "alice", password).RefreshToken)

	cases := []struct {
		name, body string
		before     func()
	}{
		{"wrong password", passwordForm("alice", "wrong password"), nil},
		{"unknown user", passwordForm("nobody", password), nil},
		{"deactivated user", passwordForm("bob", password), nil},
		{"invalid username", passwordForm("no such user!", password), nil},
		{"refresh conflict", refreshForm(conflicted.RefreshToken), nil},
		{"reused refresh token", refreshForm(reused.RefreshToken), func() { f.Clock.Advance(11 * time.Second) }},
		{"revoked session", refreshForm(revoked.RefreshToken), nil},
		{"forged secret", refreshForm(forged), nil},
		{"malformed refresh token", refreshForm("r1.not-a-token"), nil},
		{"access token as refresh token", refreshForm(revoked.AccessToken), nil},
	}
	var first string
	for _, tc := range cases {
		if tc.before != nil {
			tc.before()
		}
		resp := f.form(t, tokenPath, tc.body).Want(400, web.OAuthInvalidGrant)
		body := strings.Replace(resp.Body.String(), resp.Header().Get("X-Request-Id"), "", 1)
		if first == "" {
			first = body
		} else if body != first {
			t.Errorf("%s: body %s, want the same as the first, %s", tc.name, body, first)
		}
	}
	// The reused token ended its session, as at /refresh.
	f.form(t, tokenPath, refreshForm(reused.RefreshToken)).Want(400, web.OAuthInvalidGrant)
	if got := len(f.Events(t, auth.EventRefreshReused)); got != 1 {
		t.Errorf("%d refresh.reused events, want 1", got)
	}
	// Credential failures went through /login's path: each audited with
	// its reason (and so after its bcrypt check, pkg/auth's Login).
	reasons := map[string]bool{}
	for _, e := range f.Events(t, auth.EventLoginFailed) {
		reasons[e.Details["reason"].(string)] = true
		if e.TargetID != nil && *e.TargetID != alice.ID && *e.TargetID != bob.ID {
			t.Errorf("login.failed of user %d", *e.TargetID)
		}
	}
	for _, r := range []string{"wrong_password", "unknown_user", "inactive"} {
		if !reasons[r] {
			t.Errorf("no login.failed with reason %s (got %v)", r, reasons)
		}
	}
}

// forgeRefresh keeps a refresh token's user and session ids and replaces
// its secret: what anyone who saw an access token (sub, sid) could build.
func forgeRefresh(t *testing.T, token string) string {
	t.Helper()
	i := strings.LastIndex(token, ".")
	if i < 0 {
		t.Fatalf("refresh token %q has no secret", token)
	}
	return token[:i+1] + strings.Repeat("A", len(token)-i-1)
}

// TestTokenInvalidRequest: whatever is wrong with the shape of the
// request is 400 invalid_request (or unsupported_grant_type), an RFC 6749
// body, never a problem document, a 413/415/422, or a counted login.
func TestTokenInvalidRequest(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	good := passwordForm("alice", password)
	cases := []struct {
		name, body, ctype, word string
	}{
		{"JSON body", `{"grant_type":"password","username":"alice","password":"` + password + `"}`, "application/json", "invalid_request"},
		{"no Content-Type", good, "none", "invalid_request"},
		{"text/plain", good, "text/plain", "invalid_request"},
		{"multipart", good, "multipart/form-data; boundary=x", "invalid_request"},
		{"empty body", "", "", "invalid_request"},
		{"no grant_type", "username=alice&password=x", "", "invalid_request"},
		{"empty grant_type", "grant_type=&username=alice&password=x", "", "invalid_request"},
		{"grant_type twice", good + "&grant_type=password", "", "invalid_request"},
		{"username twice", good + "&username=alice", "", "invalid_request"},
		{"unknown parameter twice", good + "&x=1&x=2", "", "invalid_request"},
		{"no password", "grant_type=password&username=alice", "", "invalid_request"},
		{"empty password", "grant_type=password&username=alice&password=", "", "invalid_request"},
		{"no username", "grant_type=password&password=x", "", "invalid_request"},
		{"no refresh_token", "grant_type=refresh_token", "", "invalid_request"},
		{"NUL in username", "grant_type=password&username=al%00ice&password=x", "", "invalid_request"},
		{"raw NUL in password", "grant_type=password&username=alice&password=a\x00b", "", "invalid_request"},
		{"newline in password", "grant_type=password&username=alice&password=a%0Ab", "", "invalid_request"},
		{"invalid UTF-8 after decoding", "grant_type=password&username=%ff%fe&password=x", "", "invalid_request"},
		{"invalid UTF-8 body", "grant_type=password&username=\xff&password=x", "", "invalid_request"},
		{"invalid percent-encoding", "grant_type=password&username=%zz&password=x", "", "invalid_request"},
		{"semicolon separator", "grant_type=password;username=alice&password=x", "", "invalid_request"},
		{"70 KB body", good + "&pad=" + strings.Repeat("a", 70<<10), "", "invalid_request"},
		{"authorization_code grant", "grant_type=authorization_code&code=x", "", "unsupported_grant_type"},
		{"client_credentials grant", "grant_type=client_credentials", "", "unsupported_grant_type"},
		{"grant_type in another case", "grant_type=Password&username=alice&password=x", "", "unsupported_grant_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctype := tc.ctype
			switch ctype {
			case "none":
				ctype = "" // removes the header
			case "":
				ctype = "application/x-www-form-urlencoded"
			}
			resp := f.form(t, tokenPath, tc.body, "Content-Type", ctype).Want(400, tc.word)
			if d := resp.Error().ErrorDescription; strings.ContainsAny(d, "\"\\") {
				t.Errorf("error_description %q has characters RFC 6749 §5.2 forbids", d)
			}
		})
	}
	// None of it counted against alice (5 would lock her).
	f.form(t, tokenPath, good).Want(200)
	if n := len(f.Events(t, auth.EventLoginFailed)); n != 0 {
		t.Errorf("%d login.failed events, want 0", n)
	}
}

// TestTokenThrottled: /token counts failures with /login, and a lock is
// 429 too_many_requests with Retry-After, for the right password too.
func TestTokenThrottled(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	for i := range 5 {
		if i%2 == 0 {
			f.form(t, tokenPath, passwordForm("alice", "wrong password")).Want(400, web.OAuthInvalidGrant)
		} else {
			f.http.Do("POST", "/api/auth/v2/login", map[string]string{"username": "alice", "password": "wrong password"}).Want(401)
		}
	}
	resp := f.form(t, tokenPath, passwordForm("alice", password)).Want(429, web.OAuthTooManyRequests)
	if ra, err := strconv.Atoi(resp.Header().Get("Retry-After")); err != nil || ra < 1 || ra > 900 {
		t.Errorf("Retry-After = %q, want 1..900 seconds", resp.Header().Get("Retry-After"))
	}
	f.http.Do("POST", "/api/auth/v2/login", map[string]string{"username": "alice", "password": password}).Want(429)
	f.Clock.Advance(31 * time.Second)
	f.form(t, tokenPath, passwordForm("alice", password)).Want(200)
}

// TestTokenRedisDown: /token and /revoke fail closed with 503
// temporarily_unavailable and Retry-After, quickly, and nothing is lost
// (docs/security.md 27).
func TestTokenRedisDown(t *testing.T) {
	live := setup(t)
	live.CreateUser(t, "alice", password, false)
	p := live.Login(t, "alice", password)
	f := serve(t, live.Down(t, "redis"), web.Options{})
	for name, c := range map[string][2]string{
		"password grant": {tokenPath, passwordForm("alice", password)},
		"wrong password": {tokenPath, passwordForm("alice", "wrong password")},
		"refresh grant":  {tokenPath, refreshForm(p.RefreshToken)},
		"revoke refresh": {"/api/auth/v2/revoke", url.Values{"token": {p.RefreshToken}}.Encode()},
		"revoke access":  {"/api/auth/v2/revoke", url.Values{"token": {p.AccessToken}}.Encode()},
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			resp := f.form(t, c[0], c[1]).Want(503, web.OAuthTemporarilyUnavailable)
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %s, want under 5 s", time.Since(start))
			}
			if resp.Header().Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			if b := resp.Body.String(); strings.Contains(b, testenv.DeadAddr) || strings.Contains(b, "dial") {
				t.Errorf("503 body leaks the cause: %s", b)
			}
		})
	}
	live.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(p.AccessToken)...).Want(200)
	live.form(t, tokenPath, refreshForm(p.RefreshToken)).Want(200)
}

// TestTokenNoGetOrQuery: only POST is served; credentials in the query
// string are not read.
func TestTokenNoGetOrQuery(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	f.http.Do("GET", tokenPath+"?"+passwordForm("alice", password), nil).Want(405, "method_not_allowed")
	f.form(t, tokenPath+"?"+passwordForm("alice", password), "").Want(400, web.OAuthInvalidRequest)
}
