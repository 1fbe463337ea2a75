package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"authfn/pkg/auth"
)

// TestOAuthError: each core code becomes its RFC 6749 word and status;
// every credential and refresh failure is one body; causes are logged for
// 5xx and never sent; no WWW-Authenticate, exactly application/json.
func TestOAuthError(t *testing.T) {
	grant := []error{
		auth.ErrInvalidCredentials, auth.ErrInvalidToken, auth.ErrTokenReused, auth.ErrRefreshConflict,
		&auth.Error{Code: auth.CodeInvalidToken, Message: "kid unknown", Err: errors.New("secret cause")},
	}
	var grantBody string
	for _, err := range grant {
		rec, _ := oauthRecord(t, err)
		if rec.Code != 400 {
			t.Errorf("%v: status %d, want 400", err, rec.Code)
		}
		if grantBody == "" {
			grantBody = rec.Body.String()
		} else if rec.Body.String() != grantBody {
			t.Errorf("%v: body %s, want %s", err, rec.Body, grantBody)
		}
	}
	for _, tc := range []struct {
		err    error
		word   string
		status int
		retry  string
		logged bool
	}{
		{auth.Errorf(auth.CodeInvalidRequest, `Field "x" is bad \ here.`), OAuthInvalidRequest, 400, "", false},
		{auth.Errorf(CodeUnsupportedMediaType, "no"), OAuthInvalidRequest, 400, "", false},
		{auth.Errorf(CodePayloadTooLarge, "big"), OAuthInvalidRequest, 400, "", false},
		{auth.Errorf(CodeUnsupportedGrantType, "which?"), OAuthUnsupportedGrantType, 400, "", false},
		{&auth.Error{Code: auth.CodeRateLimited, Message: "slow down", RetryAfter: 1500 * time.Millisecond}, OAuthTooManyRequests, 429, "2", false},
		{auth.Unavailable("redis", errors.New("dial 10.0.0.1:6379 secret cause")), OAuthTemporarilyUnavailable, 503, "5", true},
		{errors.New("secret cause"), OAuthServerError, 500, "", true},
		{auth.Errorf(auth.CodeForbidden, "odd"), OAuthServerError, 500, "", true},
	} {
		rec, logs := oauthRecord(t, tc.err)
		var p OAuthProblem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if rec.Code != tc.status || p.Error != tc.word || p.RequestID != "req-1" || rec.Header().Get("Retry-After") != tc.retry {
			t.Errorf("%v: %d %+v Retry-After %q, want %d %s %q", tc.err, rec.Code, p, rec.Header().Get("Retry-After"), tc.status, tc.word, tc.retry)
		}
		if strings.ContainsAny(p.ErrorDescription, "\"\\") || strings.Contains(rec.Body.String(), "secret cause") {
			t.Errorf("%v: description %q", tc.err, p.ErrorDescription)
		}
		if got := strings.Contains(logs, "secret cause"); got != tc.logged && strings.Contains(tc.err.Error(), "secret cause") {
			t.Errorf("%v: cause logged %v, want %v", tc.err, got, tc.logged)
		}
	}
}

func oauthRecord(t *testing.T, err error) (*httptest.ResponseRecorder, string) {
	t.Helper()
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	req := httptest.NewRequest("POST", "/api/auth/v2/token", nil)
	req = req.WithContext(auth.WithClient(req.Context(), auth.Client{RequestID: "req-1"}))
	rec := httptest.NewRecorder()
	rec.Header().Set("WWW-Authenticate", "Bearer")
	OAuthError(rec, req, logger, err)
	if v := rec.Header().Values("WWW-Authenticate"); len(v) > 0 {
		t.Errorf("%v: WWW-Authenticate %q", err, v)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%v: Content-Type %q", err, ct)
	}
	return rec, logs.String()
}
