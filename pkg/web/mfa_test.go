package web

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"authfn/pkg/auth"
)

// TestMFAProblems: mfa_required is a 401 problem with the Bearer challenge
// and the mfa_token member, which no other problem carries;
// mfa_enrollment_required is a 403.
func TestMFAProblems(t *testing.T) {
	const tok = "m1.7.secret"
	for _, tc := range []struct {
		err       error
		status    int
		token     string
		challenge string
	}{
		{&auth.Error{Code: auth.CodeMFARequired, Message: "Second factor.", MFAToken: tok}, 401, tok, "Bearer"},
		{&auth.Error{Code: auth.CodeInvalidCredentials, Message: "No.", MFAToken: tok}, 401, "", "Bearer"},
		{auth.ErrMFAEnrollmentRequired, 403, "", ""},
	} {
		mux := http.NewServeMux()
		mux.Handle("GET /x", Handle(slog.New(slog.DiscardHandler), func(http.ResponseWriter, *http.Request) error { return tc.err }))
		rec := httptest.NewRecorder()
		Stack(slog.New(slog.DiscardHandler), mux, Options{}).ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
		p := problemOf(t, rec)
		if rec.Code != tc.status || p.Code != auth.ErrorCode(tc.err) || p.MFAToken != tc.token || rec.Header().Get("WWW-Authenticate") != tc.challenge {
			t.Errorf("%v: %d %+v WWW-Authenticate %q; want %d, mfa_token %q, challenge %q",
				tc.err, rec.Code, p, rec.Header().Get("WWW-Authenticate"), tc.status, tc.token, tc.challenge)
		}
		var raw map[string]any
		b, _ := io.ReadAll(rec.Body)
		_ = json.Unmarshal(b, &raw)
		if _, has := raw["mfa_token"]; has != (tc.token != "") {
			t.Errorf("%v: body %s: mfa_token present %v", tc.err, b, has)
		}
	}
}

// TestOAuthMFARequired: the token endpoint answers a right password
// without the second factor with RFC 6749's shape: error mfa_required,
// status 401, and the mfa_token.
func TestOAuthMFARequired(t *testing.T) {
	rec, _ := oauthRecord(t, &auth.Error{Code: auth.CodeMFARequired, Message: "Second factor.", MFAToken: "m1.7.secret"})
	var p OAuthProblem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 401 || p.Error != OAuthMFARequired || p.MFAToken != "m1.7.secret" || p.ErrorDescription == "" {
		t.Errorf("%d %+v, want 401 mfa_required with the token", rec.Code, p)
	}
	rec, _ = oauthRecord(t, &auth.Error{Code: auth.CodeInvalidCredentials, MFAToken: "m1.7.secret"})
	var grant OAuthProblem
	if json.Unmarshal(rec.Body.Bytes(), &grant) != nil || grant.MFAToken != "" {
		t.Errorf("invalid_grant carries an mfa_token: %s", rec.Body)
	}
}
