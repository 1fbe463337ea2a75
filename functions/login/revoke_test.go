package login_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"authfn/pkg/app"
	"authfn/pkg/auth"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

const revokePath = "/api/auth/v2/revoke"

func revokeForm(token string, extra ...string) string {
	v := url.Values{"token": {token}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v.Encode()
}

// wantEnded checks that the session of p has ended: its access token is
// refused and its refresh token refreshes nothing.
func (f *fixture) wantEnded(t *testing.T, p auth.TokenPair) {
	t.Helper()
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(p.AccessToken)...).Want(401, "invalid_token")
	f.form(t, tokenPath, refreshForm(p.RefreshToken)).Want(400, web.OAuthInvalidGrant)
}

// wantAlive checks that the session of p still answers.
func (f *fixture) wantAlive(t *testing.T, p auth.TokenPair) {
	t.Helper()
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(p.AccessToken)...).Want(200)
}

// TestRevoke: an access or a refresh token ends its session (and only
// it), with 200 and an empty body, audited as session.revoked via revoke;
// revoking again is still 200.
func TestRevoke(t *testing.T) {
	f := setup(t)
	alice := f.CreateUser(t, "alice", password, false)
	for name, pick := range map[string]func(auth.TokenPair) (string, []string){
		"access token":  func(p auth.TokenPair) (string, []string) { return p.AccessToken, nil },
		"refresh token": func(p auth.TokenPair) (string, []string) { return p.RefreshToken, nil },
		"access token, refresh hint": func(p auth.TokenPair) (string, []string) {
			return p.AccessToken, []string{"token_type_hint", "refresh_token"}
		},
		"refresh token, access hint": func(p auth.TokenPair) (string, []string) {
			return p.RefreshToken, []string{"token_type_hint", "access_token"}
		},
		"refresh token, unknown hint": func(p auth.TokenPair) (string, []string) {
			return p.RefreshToken, []string{"token_type_hint", "id_token"}
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := f.Login(t, "alice", password)
			other := f.Login(t, "alice", password)
			token, extra := pick(p)
			for range 2 {
				resp := f.form(t, revokePath, revokeForm(token, extra...)).Want(200)
				if resp.Body.Len() != 0 {
					t.Errorf("body %q, want empty", resp.Body)
				}
				if got := resp.Header().Get("Cache-Control"); got != "no-store" {
					t.Errorf("Cache-Control = %q, want no-store", got)
				}
			}
			f.wantEnded(t, p)
			f.wantAlive(t, other)
		})
	}
	events := f.Events(t, auth.EventSessionRevoked)
	if len(events) != 5 {
		t.Fatalf("%d session.revoked events, want 5 (one per session, none for a second revocation)", len(events))
	}
	for _, e := range events {
		if e.Details["via"] != "revoke" || !strings.HasPrefix(e.Details["session_id"].(string), "s_") ||
			e.TargetID == nil || *e.TargetID != alice.ID {
			t.Errorf("event %+v, want alice's session revoked via revoke", e)
		}
	}
}

// TestRevokeRotatedRefreshToken: a refresh token its session rotated out
// still ends the session (presenting it to /refresh would, as reuse).
func TestRevokeRotatedRefreshToken(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	p := f.Login(t, "alice", password)
	var next auth.TokenPair
	f.form(t, tokenPath, refreshForm(p.RefreshToken)).Want(200).JSON(&next)
	f.form(t, revokePath, revokeForm(p.RefreshToken)).Want(200)
	f.wantEnded(t, next)
}

// TestRevokeEndsNothingWithoutProof: tokens that prove nothing get the
// same 200 and end nothing. A refresh token with the right user and
// session ids but a forged secret, which anyone who saw the access token
// could build, must not end the session; neither does an expired access
// token (only currently valid access tokens are honoured), one signed with
// another key, or one of another issuer.
func TestRevokeEndsNothingWithoutProof(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	p := f.Login(t, "alice", password)

	other := testenv.New(t, func(c *app.Config) { c.JWTIssuer = "elsewhere" })
	other.CreateUser(t, "alice", password, false)
	foreign, err := other.Auth.Sessions.Login(t.Context(), "alice", password)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(p.AccessToken, ".")
	for name, token := range map[string]string{
		"forged refresh secret":     forgeRefresh(t, p.RefreshToken),
		"refresh token cut short":   p.RefreshToken[:len(p.RefreshToken)-1],
		"unknown token":             "not a token at all",
		"refresh-shaped garbage":    "r1.1.s_AAAAAAAAAAAAAAAAAAAAAA." + strings.Repeat("A", 43),
		"access token of elsewhere": foreign.AccessToken,
		"access token, bad sig":     parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		"huge token":                strings.Repeat("A", 60<<10),
		"unicode":                   "\u00e9\u2603",
	} {
		t.Run(name, func(t *testing.T) {
			f.form(t, revokePath, revokeForm(token)).Want(200)
			f.wantAlive(t, p)
		})
	}
	// An expired access token: 200, and the session lives (revoke its
	// refresh token to end it).
	f.Clock.Advance(f.Config.AccessTokenTTL + time.Minute)
	f.form(t, revokePath, revokeForm(p.AccessToken)).Want(200)
	if _, err := f.Sessions.TouchSession(t.Context(), p.User.ID, p.SessionID, f.Clock.Now()); err != nil {
		t.Errorf("the session of an expired access token was ended: %v", err)
	}
	if n := len(f.Events(t, auth.EventSessionRevoked)); n != 0 {
		t.Errorf("%d session.revoked events, want 0", n)
	}
	f.form(t, revokePath, revokeForm(p.RefreshToken)).Want(200)
	f.wantEnded(t, p)
}

// TestRevokeInvalidRequest: no token, a repeated parameter or a body that
// is not a form is 400 invalid_request (an RFC 6749 body), and ends
// nothing.
func TestRevokeInvalidRequest(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "alice", password, false)
	p := f.Login(t, "alice", password)
	for name, c := range map[string][2]string{
		"no token":          {"token_type_hint=access_token", ""},
		"empty token":       {"token=", ""},
		"empty body":        {"", ""},
		"token twice":       {revokeForm(p.RefreshToken) + "&" + revokeForm(p.RefreshToken), ""},
		"hint twice":        {revokeForm(p.RefreshToken) + "&token_type_hint=a&token_type_hint=b", ""},
		"JSON":              {`{"token":"` + p.RefreshToken + `"}`, "application/json"},
		"bad percent":       {"token=%zz", ""},
		"NUL in token":      {"token=r1.%00", ""},
		"70 KB":             {revokeForm(p.RefreshToken) + "&pad=" + strings.Repeat("a", 70<<10), ""},
		"invalid UTF-8":     {"token=\xff", ""},
		"semicolon in body": {"token=x;y=z", ""},
	} {
		t.Run(name, func(t *testing.T) {
			var h []string
			if c[1] != "" {
				h = []string{"Content-Type", c[1]}
			}
			f.form(t, revokePath, c[0], h...).Want(400, web.OAuthInvalidRequest)
		})
	}
	f.wantAlive(t, p)
}
