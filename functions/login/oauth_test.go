package login_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

// oauthResponse is an answer of /token or /revoke.
type oauthResponse struct {
	*httptest.ResponseRecorder
	t testing.TB
}

// form posts body to path through the real routes and middleware,
// form-encoded unless headers say otherwise (name, value pairs; an empty
// value removes the header). testenv.HTTP cannot be used: it requires
// every error to be a problem document, and these endpoints answer RFC
// 6749 bodies. So this checks what it checks for them instead: the
// exchange against the OpenAPI document, a request id and nosniff on every
// answer, never a WWW-Authenticate, and every error exactly
// application/json with an RFC 6749 body whose request_id is the
// response's.
func (f *fixture) form(t testing.TB, path, body string, headers ...string) *oauthResponse {
	t.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.RemoteAddr = f.http.RemoteAddr
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	checkOAuthExchange(t, req, []byte(body), rec.Code, rec.Header(), rec.Body.Bytes())
	return &oauthResponse{ResponseRecorder: rec, t: t}
}

// checkOAuthExchange holds one exchange with /token, /revoke or the
// discovery document to the document and to the rules every answer of the
// standard endpoints keeps.
func checkOAuthExchange(t testing.TB, req *http.Request, reqBody []byte, status int, h http.Header, body []byte) {
	t.Helper()
	testenv.ValidateExchange(t, req, reqBody, status, h, body)
	if h.Get("X-Request-Id") == "" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s %s: X-Request-Id %q, X-Content-Type-Options %q", req.Method, req.URL.Path, h.Get("X-Request-Id"), h.Get("X-Content-Type-Options"))
	}
	if !strings.HasSuffix(req.URL.Path, "/token") && !strings.HasSuffix(req.URL.Path, "/revoke") {
		return
	}
	if v := h.Values("WWW-Authenticate"); len(v) > 0 {
		t.Errorf("%s %s -> %d: WWW-Authenticate %q, want none", req.Method, req.URL.Path, status, v)
	}
	if status < 400 {
		return
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s -> %d: Content-Type %q, want exactly application/json", req.Method, req.URL.Path, status, ct)
	}
	var p web.OAuthProblem
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Errorf("%s %s -> %d: body %s is not an RFC 6749 error: %v", req.Method, req.URL.Path, status, body, err)
	}
	if p.Error == "" || p.ErrorDescription == "" || p.RequestID != h.Get("X-Request-Id") {
		t.Errorf("%s %s -> %d: error %+v does not match the request id %q", req.Method, req.URL.Path, status, p, h.Get("X-Request-Id"))
	}
}

// Want fails the test unless the status is want and, for errors, the
// RFC 6749 error word is word (when given).
func (r *oauthResponse) Want(status int, word ...string) *oauthResponse {
	r.t.Helper()
	if r.Code != status {
		r.t.Fatalf("status = %d, want %d (body %s)", r.Code, status, r.Body)
	}
	if len(word) > 0 {
		if got := r.Error().Error; got != word[0] {
			r.t.Fatalf("error = %q, want %q (body %s)", got, word[0], r.Body)
		}
	}
	return r
}

// Error decodes an RFC 6749 error body.
func (r *oauthResponse) Error() web.OAuthProblem {
	r.t.Helper()
	var p web.OAuthProblem
	if err := json.Unmarshal(r.Body.Bytes(), &p); err != nil {
		r.t.Fatalf("decode %s: %v", r.Body, err)
	}
	return p
}

// JSON decodes a success body into v.
func (r *oauthResponse) JSON(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body.Bytes(), v); err != nil {
		r.t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// validating wraps h for an httptest.Server that real client libraries
// call: every exchange is held to the document and the rules above, as
// fixture.form does for the requests a test sends itself.
func validating(t testing.TB, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request body: %v", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		// The validator routes by path; a server request has no scheme or host.
		vreq := r.Clone(r.Context())
		checkOAuthExchange(t, vreq, body, rec.Code, rec.Header(), rec.Body.Bytes())
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}
