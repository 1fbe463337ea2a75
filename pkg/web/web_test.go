package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"authfn/pkg/auth"
)

var discard = slog.New(slog.DiscardHandler)

type sample struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func (s sample) Validate() error {
	if s.Name == "" {
		return &auth.Error{Code: auth.CodeValidation, Message: "bad", Fields: map[string]string{"name": "is required"}}
	}
	return nil
}

// decodeServer answers 200 with the decoded value, or the problem.
func decodeServer() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /x", Handle(discard, func(w http.ResponseWriter, r *http.Request) error {
		v, err := Decode[sample](w, r)
		if err != nil {
			return err
		}
		Encode(w, r, discard, http.StatusOK, v)
		return nil
	}))
	return Stack(discard, mux, Options{})
}

func problemOf(t *testing.T, rec *httptest.ResponseRecorder) Problem {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (body %s)", ct, rec.Body)
	}
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != rec.Code || p.RequestID == "" || p.RequestID != rec.Header().Get("X-Request-Id") || p.Detail == "" || p.Title == "" {
		t.Errorf("problem %+v does not match status %d / request id %q", p, rec.Code, rec.Header().Get("X-Request-Id"))
	}
	return p
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name   string
		ctype  string
		body   string
		status int
		code   auth.Code
	}{
		{"ok", "application/json", `{"name":"a","count":2}`, 200, ""},
		{"charset param", "application/json; charset=utf-8", `{"name":"a"}`, 200, ""},
		{"no content type", "", `{"name":"a"}`, 415, CodeUnsupportedMediaType},
		{"form", "application/x-www-form-urlencoded", `name=a`, 415, CodeUnsupportedMediaType},
		{"empty", "application/json", ``, 400, auth.CodeInvalidRequest},
		{"malformed", "application/json", `{"name":`, 400, auth.CodeInvalidRequest},
		{"not an object", "application/json", `[1,2]`, 400, auth.CodeInvalidRequest},
		{"unknown field", "application/json", `{"name":"a","admin":true}`, 400, auth.CodeInvalidRequest},
		{"two values", "application/json", `{"name":"a"} {"name":"b"}`, 400, auth.CodeInvalidRequest},
		// encoding/json would match these without regard to case and let the last win.
		{"key in another case", "application/json", `{"NAME":"a"}`, 400, auth.CodeInvalidRequest},
		{"repeated key", "application/json", `{"name":"a","name":"b"}`, 400, auth.CodeInvalidRequest},
		{"twin in another case", "application/json", `{"name":"a","Name":"b"}`, 400, auth.CodeInvalidRequest},
		{"repeated key after a nested value", "application/json", `{"count":1,"name":"a","count":2}`, 400, auth.CodeInvalidRequest},
		{"trailing garbage", "application/json", `{"name":"a"}x`, 400, auth.CodeInvalidRequest},
		{"wrong type", "application/json", `{"name":5}`, 422, auth.CodeValidation},
		{"number overflow", "application/json", `{"name":"a","count":1e400}`, 422, auth.CodeValidation},
		{"invalid utf-8", "application/json", "{\"name\":\"\xff\"}", 400, auth.CodeInvalidRequest},
		{"validation", "application/json", `{"count":1}`, 422, auth.CodeValidation},
		{"too large", "application/json", `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, 413, CodePayloadTooLarge},
		{"deep nesting", "application/json", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), 400, auth.CodeInvalidRequest},
	}
	h := decodeServer()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/x", strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d (body %s)", rec.Code, tc.status, rec.Body)
			}
			if tc.code != "" {
				if p := problemOf(t, rec); p.Code != tc.code {
					t.Errorf("code = %q, want %q", p.Code, tc.code)
				}
			}
		})
	}
}

func TestValidationProblemListsFields(t *testing.T) {
	req := httptest.NewRequest("POST", "/x", strings.NewReader(`{"name":5}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	decodeServer().ServeHTTP(rec, req)
	p := problemOf(t, rec)
	if len(p.Errors) != 1 || p.Errors[0].Field != "name" || p.Errors[0].Message == "" {
		t.Errorf("errors = %+v, want one for field name", p.Errors)
	}
}

func TestUnroutedRequestsGetProblems(t *testing.T) {
	h := decodeServer()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 405 || rec.Header().Get("Allow") != "POST" {
		t.Fatalf("GET /x = %d Allow %q, want 405 Allow POST", rec.Code, rec.Header().Get("Allow"))
	}
	if p := problemOf(t, rec); p.Code != CodeMethodNotAllowed {
		t.Errorf("code = %s", p.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/nowhere", nil))
	if p := problemOf(t, rec); rec.Code != 404 || p.Code != auth.CodeNotFound {
		t.Errorf("GET /nowhere = %d %s, want 404 not_found", rec.Code, p.Code)
	}
}

func TestEveryResponseHeaders(t *testing.T) {
	h := decodeServer()
	for _, tc := range []struct {
		in   string
		keep bool
	}{
		{"abc-123", true}, {strings.Repeat("a", 64), true}, {strings.Repeat("a", 65), false},
		{"bad id!", false}, {"", false}, {"x\r\ny", false},
	} {
		req := httptest.NewRequest("GET", "/nowhere", nil)
		if tc.in != "" {
			req.Header["X-Request-Id"] = []string{tc.in}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := rec.Header().Get("X-Request-Id")
		if (got == tc.in) != tc.keep || got == "" {
			t.Errorf("inbound %q: X-Request-Id = %q, keep = %v", tc.in, got, tc.keep)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("missing nosniff")
		}
	}
}

func TestGatewayRequestIDAndIP(t *testing.T) {
	for _, tc := range []struct {
		name, gwID string
		keep       bool
	}{
		{"plain", "gw-req-1", true},
		{"REST API", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", true},
		{"HTTP API", "JKJaXmPLvHcESHA=", true},
		{"HTTP API, base64 symbols", "qJG/MSNzLVB4t+U=", true},
		{"ALB trace root", "1-67891233-abcdef012345678912345678", true},
		{"too long", strings.Repeat("a", 129), false},
		{"header injection", "x\r\nSet-Cookie: a=b", false},
		{"space", "bad id", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got auth.Client
			mux := http.NewServeMux()
			mux.HandleFunc("GET /c", func(w http.ResponseWriter, r *http.Request) { got = auth.ClientFromContext(r.Context()) })
			h := Stack(discard, mux, Options{Gateway: func(*http.Request) (string, string, bool) { return "198.51.100.9", tc.gwID, true }})
			req := httptest.NewRequest("GET", "/c", nil)
			req.Header.Set("X-Forwarded-For", "203.0.113.66")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			id := rec.Header().Get("X-Request-Id")
			if (id == tc.gwID) != tc.keep || id == "" || got.RequestID != id {
				t.Errorf("X-Request-Id = %q, client request id %q; want the gateway's %q: %v", id, got.RequestID, tc.gwID, tc.keep)
			}
			if got.IP != "198.51.100.9" {
				t.Errorf("client IP = %q, want the gateway's 198.51.100.9", got.IP)
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name string
		peer string
		xff  []string
		want string
	}{
		{"untrusted peer ignores header", "203.0.113.5", []string{"1.2.3.4"}, "203.0.113.5"},
		{"trusted peer believes last hop", "10.0.0.1", []string{"1.2.3.4"}, "1.2.3.4"},
		{"client-written entries are skipped", "10.0.0.1", []string{"6.6.6.6, 1.2.3.4"}, "1.2.3.4"},
		{"trusted hops are walked", "10.0.0.1", []string{"1.2.3.4, 10.1.1.1"}, "1.2.3.4"},
		{"two header lines", "10.0.0.1", []string{"6.6.6.6", "1.2.3.4"}, "1.2.3.4"},
		{"garbage hop stops the walk", "10.0.0.1", []string{"1.2.3.4, junk"}, "10.0.0.1"},
		{"no header", "10.0.0.1", nil, "10.0.0.1"},
		{"ipv4-mapped ipv6", "::ffff:203.0.113.5", nil, "203.0.113.5"},
	}
	for _, tc := range cases {
		if got := clientIP(netip.MustParseAddr(tc.peer).Unmap(), tc.xff, trusted); got != tc.want {
			t.Errorf("%s: clientIP = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestInternalErrorIsGeneric(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	mux := http.NewServeMux()
	mux.Handle("GET /boom", Handle(logger, func(http.ResponseWriter, *http.Request) error {
		return io.ErrUnexpectedEOF // a cause that must not reach the client
	}))
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("secret-panic-value") })
	h := Stack(logger, mux, Options{})
	for _, path := range []string{"/boom", "/panic"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		p := problemOf(t, rec)
		if rec.Code != 500 || p.Code != auth.CodeInternal || p.Detail != "Internal error." {
			t.Errorf("%s: %d %+v, want a generic 500", path, rec.Code, p)
		}
		if strings.Contains(rec.Body.String(), "unexpected EOF") || strings.Contains(rec.Body.String(), "secret-panic") {
			t.Errorf("%s: body leaks the cause: %s", path, rec.Body)
		}
	}
	if !strings.Contains(logs.String(), "unexpected EOF") {
		t.Errorf("the cause was not logged: %s", logs.String())
	}
}

func TestCORS(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /c", func(w http.ResponseWriter, r *http.Request) {})
	h := Stack(discard, mux, Options{AllowedOrigins: []string{"https://app.example"}})
	pre := httptest.NewRequest("OPTIONS", "/c", nil)
	pre.Header.Set("Origin", "https://app.example")
	pre.Header.Set("Access-Control-Request-Method", "GET")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, pre)
	if rec.Code != 204 || rec.Header().Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight = %d %v", rec.Code, rec.Header())
	}
	other := httptest.NewRequest("GET", "/c", nil)
	other.Header.Set("Origin", "https://evil.example")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, other)
	if rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("an unlisted origin was allowed")
	}
}

func TestBearer(t *testing.T) {
	for _, tc := range []struct {
		header []string
		ok     bool
	}{
		{[]string{"Bearer abc.def.ghi"}, true},
		{[]string{"bearer abc.def.ghi"}, true},
		{[]string{"Basic dXNlcjpwYXNz"}, false},
		{[]string{"Bearer"}, false},
		{[]string{"Bearer "}, false},
		{[]string{"Bearer a b"}, false},
		{[]string{"Bearer a", "Bearer b"}, false},
		{nil, false},
		{[]string{"Bearer " + strings.Repeat("a", auth.MaxTokenBytes+1)}, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = tc.header
		_, err := bearer(r)
		if (err == nil) != tc.ok {
			t.Errorf("bearer(%.40q) err = %v, want ok %v", tc.header, err, tc.ok)
		}
	}
}

// FuzzDecode: no body panics the decoder, and every failure is a client
// error with a problem document, never a 500 (docs/security.md 30).
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"name":"a","count":1}`, `{`, `null`, `[]`, `{"name":"\u0000"}`, `{"count":-0.0e-0}`, "\xff"} {
		f.Add(s)
	}
	h := decodeServer()
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/x", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("body %q: status %d", body, rec.Code)
		}
	})
}

// TestClientGoneIsNotAnError: a request whose client disconnected fails
// in the store call with "context canceled"; that is neither a 500 nor a
// 503 in the log, where it would page someone.
func TestClientGoneIsNotAnError(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	mux := http.NewServeMux()
	mux.Handle("GET /slow", Handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		<-r.Context().Done()
		return fmt.Errorf("store call: %w", r.Context().Err())
	}))
	h := Stack(logger, mux, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("GET", "/slow", nil).WithContext(ctx)
	cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != StatusClientClosed {
		t.Errorf("status = %d, want %d", rec.Code, StatusClientClosed)
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) || strings.Contains(logs.String(), `"level":"WARN"`) {
		t.Errorf("a client going away was logged as a fault:\n%s", logs.String())
	}
}

// TestDecodeRepeatedKeyAfterHugeNumber: a number no float64 holds must not
// blind the repeated-key scan for targets that keep numbers as text (the
// preferences map), or the last of two values would win.
func TestDecodeRepeatedKeyAfterHugeNumber(t *testing.T) {
	var m map[string]json.RawMessage
	err := DecodeJSON([]byte(`{"a":1e400,"b":1,"b":2}`), &m)
	var e *auth.Error
	if !errors.As(err, &e) || e.Code != auth.CodeInvalidRequest {
		t.Fatalf("err = %v, want invalid_request for the repeated key (decoded %v)", err, m)
	}
}
