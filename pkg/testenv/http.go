package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"authfn/pkg/web"
)

// HTTP drives a handler the way a client would, through the real routes
// and middleware.
type HTTP struct {
	t testing.TB
	h http.Handler
	// RemoteAddr is the peer address of every request ("ip:port").
	RemoteAddr string
}

// NewHTTP returns a client for h.
func NewHTTP(t testing.TB, h http.Handler) *HTTP {
	return &HTTP{t: t, h: h, RemoteAddr: "192.0.2.10:40000"}
}

// Response is a recorded response.
type Response struct {
	*httptest.ResponseRecorder
	t testing.TB
}

// Do sends a request. body may be nil, a string or []byte (sent as is,
// as JSON unless a Content-Type header is given), or any other value
// (encoded as JSON). headers are name, value pairs.
func (c *HTTP) Do(method, path string, body any, headers ...string) *Response {
	c.t.Helper()
	var r io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		r, ctype = strings.NewReader(b), "application/json"
	case []byte:
		r, ctype = bytes.NewReader(b), "application/json"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r, ctype = bytes.NewReader(j), "application/json"
	}
	req := httptest.NewRequest(method, path, r)
	req.RemoteAddr = c.RemoteAddr
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.Send(req)
}

// Send serves req and checks what every response must carry (docs/api.md):
// a request id and nosniff; problem documents for every error. It then
// holds the exchange to the OpenAPI document (ValidateExchange), so every
// handler test is also a test of pkg/apidoc/openapi.json.
func (c *HTTP) Send(req *http.Request) *Response {
	c.t.Helper()
	// The handler consumes the body; keep a copy for the request check.
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			c.t.Fatalf("read request body: %v", err)
		}
		_ = req.Body.Close()
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	resp := &Response{ResponseRecorder: rec, t: c.t}
	ValidateExchange(c.t, req, reqBody, rec.Code, rec.Header(), rec.Body.Bytes())
	if rec.Header().Get("X-Request-Id") == "" {
		c.t.Errorf("%s %s: no X-Request-Id", req.Method, req.URL.Path)
	}
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		c.t.Errorf("%s %s: no X-Content-Type-Options: nosniff", req.Method, req.URL.Path)
	}
	// Every error is a problem document, except the health report, whose
	// 503 body docs/api.md defines as the report itself.
	if rec.Code >= 400 && req.URL.Path != "/api/auth/v2/health" {
		p := resp.Problem()
		if p.Status != rec.Code || p.RequestID != rec.Header().Get("X-Request-Id") || p.Code == "" || p.Detail == "" {
			c.t.Errorf("%s %s: problem %+v does not match status %d and request id", req.Method, req.URL.Path, p, rec.Code)
		}
	}
	return resp
}

// Bearer is the Authorization header pair for token.
func Bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// JSON decodes the body into v, failing the test if it is not JSON.
func (r *Response) JSON(v any) {
	r.t.Helper()
	if ct := r.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		r.t.Fatalf("Content-Type = %q, want application/json (status %d, body %s)", ct, r.Code, r.Body)
	}
	if err := json.Unmarshal(r.Body.Bytes(), v); err != nil {
		r.t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Problem decodes an error body.
func (r *Response) Problem() web.Problem {
	r.t.Helper()
	var p web.Problem
	if ct := r.Header().Get("Content-Type"); ct != "application/problem+json" {
		r.t.Errorf("error Content-Type = %q, want application/problem+json (status %d, body %s)", ct, r.Code, r.Body)
		return p
	}
	if err := json.Unmarshal(r.Body.Bytes(), &p); err != nil {
		r.t.Errorf("decode problem %s: %v", r.Body, err)
	}
	return p
}

// Want fails the test unless the status is want, and for errors the
// problem's code is code (when given).
func (r *Response) Want(status int, code ...string) *Response {
	r.t.Helper()
	if r.Code != status {
		r.t.Fatalf("status = %d, want %d (body %s)", r.Code, status, r.Body)
	}
	if len(code) > 0 {
		if got := r.Problem().Code; string(got) != code[0] {
			r.t.Fatalf("code = %q, want %q", got, code[0])
		}
	}
	return r
}
