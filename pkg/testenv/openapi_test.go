package testenv

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestValidateExchange holds the validator itself to account: each case
// is an exchange that a drifting handler could produce, and the validator
// must catch it (or, for the valid ones, must not).
func TestValidateExchange(t *testing.T) {
	const (
		user = `{"id":1,"username":"admin","full_name":"A","is_admin":true,"is_active":true,"source":"local","mfa_enabled":false,` +
			`"created_at":"2026-06-29T14:41:43.335368Z","updated_at":"2026-06-29T14:41:43.335368Z","last_login_at":%s}`
		problem404 = `{"type":"about:blank","title":"Not Found","status":404,"detail":"Not found.","code":"not_found","request_id":"abc-1"}`
		problem405 = `{"type":"about:blank","title":"Method Not Allowed","status":405,"detail":"No.","code":"method_not_allowed","request_id":"abc-1"}`
		problem401 = `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"No.","code":"invalid_token","request_id":"abc-1"}`
		problem422 = `{"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"No.","code":"validation_failed","request_id":"abc-1"%s}`
		live       = `{"status":"alive","version":"v1"}`
	)
	userWith := func(lastLogin string) string { return strings.Replace(user, "%s", lastLogin, 1) }
	base := []string{"X-Request-Id", "abc-1", "X-Content-Type-Options", "nosniff"}
	jsonH := append([]string{"Content-Type", "application/json"}, base...)
	problemH := append([]string{"Content-Type", "application/problem+json"}, base...)
	bearer := []string{"Authorization", "Bearer a.b.c"}
	for _, tc := range []struct {
		name          string
		method, path  string
		reqHeaders    []string
		reqBody       string
		status        int
		headers       []string
		body          string
		wantErrSubstr string // "" means valid
	}{
		{name: "valid liveness", method: "GET", path: "/api/auth/v2/health/live", status: 200, headers: jsonH, body: live},
		{name: "missing request id", method: "GET", path: "/api/auth/v2/health/live", status: 200,
			headers: []string{"Content-Type", "application/json", "X-Content-Type-Options", "nosniff"}, body: live, wantErrSubstr: "X-Request-Id"},
		{name: "undocumented field", method: "GET", path: "/api/auth/v2/health/live", status: 200, headers: jsonH,
			body: `{"status":"alive","version":"v1","uptime":3}`, wantErrSubstr: "doesn't match schema"},
		{name: "undocumented status", method: "GET", path: "/api/auth/v2/health/live", status: 418, headers: problemH, body: problem404, wantErrSubstr: "status is not supported"},
		{name: "wrong content type", method: "GET", path: "/api/auth/v2/health/live", status: 200,
			headers: append([]string{"Content-Type", "text/plain"}, base...), body: live, wantErrSubstr: "Content-Type"},
		{name: "unlisted route answered", method: "GET", path: "/api/auth/v2/nowhere", status: 200, headers: jsonH, body: live, wantErrSubstr: "document the operation"},
		{name: "unlisted route 404", method: "GET", path: "/api/auth/v2/nowhere", status: 404, headers: problemH, body: problem404},
		{name: "unlisted route 404 not a problem", method: "GET", path: "/api/auth/v2/nowhere", status: 404, headers: jsonH, body: `{}`, wantErrSubstr: "Content-Type"},
		{name: "405 with Allow", method: "PUT", path: "/api/auth/v2/me", status: 405, headers: append([]string{"Allow", "GET, HEAD"}, problemH...), body: problem405},
		{name: "405 without Allow", method: "PUT", path: "/api/auth/v2/me", status: 405, headers: problemH, body: problem405, wantErrSubstr: "Allow"},
		{name: "405 with the wrong code", method: "PUT", path: "/api/auth/v2/me", status: 405, headers: append([]string{"Allow", "GET"}, problemH...), body: problem404, wantErrSubstr: "doesn't match schema"},
		{name: "user, never logged in", method: "GET", path: "/api/auth/v2/me", reqHeaders: bearer, status: 200, headers: jsonH, body: userWith("null")},
		{name: "user, last login a number", method: "GET", path: "/api/auth/v2/me", reqHeaders: bearer, status: 200, headers: jsonH, body: userWith("5"), wantErrSubstr: "last_login_at"},
		{name: "user, bad timestamp", method: "GET", path: "/api/auth/v2/me", reqHeaders: bearer, status: 200, headers: jsonH, body: userWith(`"yesterday"`), wantErrSubstr: "last_login_at"},
		{name: "bearer route answered without a token", method: "GET", path: "/api/auth/v2/me", status: 200, headers: jsonH, body: userWith("null"), wantErrSubstr: "Bearer"},
		{name: "401 without a challenge", method: "GET", path: "/api/auth/v2/me", status: 401, headers: problemH, body: problem401, wantErrSubstr: "WWW-Authenticate"},
		{name: "401 with a challenge", method: "GET", path: "/api/auth/v2/me", status: 401,
			headers: append([]string{"WWW-Authenticate", `Bearer error="invalid_token"`}, problemH...), body: problem401},
		{name: "404 where none is documented", method: "GET", path: "/api/auth/v2/me", reqHeaders: bearer, status: 404, headers: problemH, body: problem404, wantErrSubstr: "status is not supported"},
		{name: "request with an unknown field answered 2xx", method: "POST", path: "/api/auth/v2/refresh",
			reqHeaders: []string{"Content-Type", "application/json"}, reqBody: `{"refresh_token":"x","scope":"all"}`,
			status: 200, headers: jsonH, body: `{}`, wantErrSubstr: "request:"},
		{name: "bad request answered 422 with errors", method: "POST", path: "/api/auth/v2/refresh",
			reqHeaders: []string{"Content-Type", "application/json"}, reqBody: `{"refresh_token":42}`,
			status: 422, headers: problemH, body: strings.Replace(problem422, "%s", `,"errors":[{"field":"refresh_token","message":"must be a string"}]`, 1)},
		{name: "422 without errors", method: "POST", path: "/api/auth/v2/refresh",
			reqHeaders: []string{"Content-Type", "application/json"}, reqBody: `{}`,
			status: 422, headers: problemH, body: strings.Replace(problem422, "%s", "", 1), wantErrSubstr: "errors"},
		{name: "204 with a body", method: "DELETE", path: "/api/auth/v2/me/sessions/s_AAAAAAAAAAAAAAAAAAAAAA", reqHeaders: bearer,
			status: 204, headers: base, body: `{}`, wantErrSubstr: "without a body"},
		{name: "empty next_cursor", method: "GET", path: "/api/auth/v2/users", reqHeaders: bearer, status: 200, headers: jsonH,
			body: `{"users":[],"next_cursor":""}`, wantErrSubstr: "next_cursor"},
		{name: "last page", method: "GET", path: "/api/auth/v2/users?limit=10", reqHeaders: bearer, status: 200, headers: jsonH,
			body: `{"users":[],"next_cursor":null}`},
		{name: "limit out of range answered 2xx", method: "GET", path: "/api/auth/v2/users?limit=500", reqHeaders: bearer, status: 200, headers: jsonH,
			body: `{"users":[],"next_cursor":null}`, wantErrSubstr: "limit"},
		{name: "bad preference key", method: "GET", path: "/api/auth/v2/preferences", reqHeaders: bearer, status: 200, headers: jsonH,
			body: `{"preferences":{"no spaces":1}}`, wantErrSubstr: "doesn't match schema"},
		{name: "created without Location", method: "POST", path: "/api/auth/v2/users",
			reqHeaders: append([]string{"Content-Type", "application/json"}, bearer...), reqBody: `{"username":"bob","password":"12345678"}`,
			status: 201, headers: jsonH, body: userWith("null"), wantErrSubstr: "Location"},
		{name: "preflight", method: "OPTIONS", path: "/api/auth/v2/anything",
			reqHeaders: []string{"Origin", "https://app.example", "Access-Control-Request-Method", "POST"}, status: 204, headers: base},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.reqBody != "" {
				body = strings.NewReader(tc.reqBody)
			}
			var req *http.Request
			if body != nil {
				req = httptest.NewRequest(tc.method, tc.path, body)
			} else {
				req = httptest.NewRequest(tc.method, tc.path, nil)
			}
			for i := 0; i+1 < len(tc.reqHeaders); i += 2 {
				req.Header.Set(tc.reqHeaders[i], tc.reqHeaders[i+1])
			}
			h := http.Header{}
			for i := 0; i+1 < len(tc.headers); i += 2 {
				h.Set(tc.headers[i], tc.headers[i+1])
			}
			errs := checkExchange(req, []byte(tc.reqBody), tc.status, h, []byte(tc.body))
			var msgs []string
			for _, err := range errs {
				msgs = append(msgs, err.Error())
			}
			got := strings.Join(msgs, "\n")
			switch {
			case tc.wantErrSubstr == "" && len(errs) > 0:
				t.Errorf("errors for a valid exchange:\n%s", got)
			case tc.wantErrSubstr != "" && !strings.Contains(got, tc.wantErrSubstr):
				t.Errorf("errors = %q, want one mentioning %q", got, tc.wantErrSubstr)
			}
		})
	}
}
