package gpustack

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/gpustack/gpustacktest"
)

const (
	alicePassword = "S3cret-Pa55word!"
	adminPassword = "Adm1n-Pa55word!"
)

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 6, 29, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClient(t *testing.T, o Options) *Client {
	t.Helper()
	if o.Now == nil {
		o.Now = newClock().Now
	}
	c, err := New(o)
	if err != nil {
		t.Fatalf("New(%q): %v", o.URL, err)
	}
	return c
}

// fake is a GPUStack with an admin and alice.
func fake(t *testing.T, o gpustacktest.Options) *gpustacktest.Server {
	t.Helper()
	s := gpustacktest.New(t, o)
	s.AddUser("admin", adminPassword, "Administrator", true, true)
	s.AddUser("alice", alicePassword, "Alice Liddell", false, true)
	return s
}

func wantCode(t *testing.T, err error, want auth.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %s", want)
	}
	if got := auth.ErrorCode(err); got != want {
		t.Fatalf("code = %s (%v), want %s", got, err, want)
	}
}

func login(t *testing.T, c *Client, username, password string) (auth.UpstreamUser, error) {
	t.Helper()
	return c.Authenticate(context.Background(), username, password)
}

func TestSource(t *testing.T) {
	c := newClient(t, Options{URL: "https://gpustack.example.com"})
	if got := c.Source(); got != auth.SourceGPUStack {
		t.Errorf("Source() = %q, want %q", got, auth.SourceGPUStack)
	}
}

func TestNewURLRules(t *testing.T) {
	tests := []struct {
		url      string
		wantBase string // "" means New must fail
	}{
		{"https://gpustack.example.com", "https://gpustack.example.com"},
		{"https://gpustack.example.com:8443/gpustack/", "https://gpustack.example.com:8443/gpustack"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://127.0.0.2", "http://127.0.0.2"},
		{"http://localhost:80", "http://localhost:80"},
		{"http://[::1]:8080", "http://[::1]:8080"},
		{"https://admin:hunter2@gpustack.example.com", "https://gpustack.example.com"},
		{"http://user:hunter2@127.0.0.1:9", "http://127.0.0.1:9"},
		{"http://example.com", ""},
		{"http://10.0.0.5", ""},
		{"http://127.0.0.1.nip.io", ""},
		{"http://localhost.example.com", ""},
		{"ftp://gpustack.example.com", ""},
		{"gpustack.example.com", ""},
		{"https://", ""},
		{"https:gpustack.example.com", ""},
		{"https://gpustack.example.com/?token=hunter2", ""},
		{"https://gpustack.example.com/#x", ""},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			c, err := New(Options{URL: tc.url})
			if tc.wantBase == "" {
				if err == nil {
					t.Fatalf("New(%q) = nil error, want an error", tc.url)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q repeats a secret of the URL", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q): %v", tc.url, err)
			}
			if c.base != tc.wantBase {
				t.Errorf("base = %q, want %q", c.base, tc.wantBase)
			}
		})
	}
	if _, err := New(Options{URL: "https://gpustack.example.com", Timeout: -time.Second}); err == nil {
		t.Error("New with a negative Timeout = nil error, want an error")
	}
}

func TestAuthenticateVersions(t *testing.T) {
	tests := []struct {
		version     string
		path, other string
	}{
		{"v0.6.2", "/v1/users/me", "/v2/users/me"},
		{"v0.7.1", "/v1/users/me", "/v2/users/me"},
		{"v2.0.1", "/v2/users/me", "/v1/users/me"},
		{"v2.2.0", "/v2/users/me", "/v1/users/me"},
	}
	for _, tc := range tests {
		t.Run(tc.version, func(t *testing.T) {
			s := fake(t, gpustacktest.Options{Version: tc.version})
			s.AddUser("nobody-named", "N0-name-pw!", "", false, true)
			c := newClient(t, Options{URL: s.URL()})

			got, err := login(t, c, "alice", alicePassword)
			if err != nil {
				t.Fatalf("Authenticate(alice): %v", err)
			}
			want := auth.UpstreamUser{Username: "alice", FullName: "Alice Liddell", IsActive: true}
			if got != want {
				t.Errorf("profile = %+v, want %+v", got, want)
			}
			got, err = login(t, c, "admin", adminPassword)
			if err != nil {
				t.Fatalf("Authenticate(admin): %v", err)
			}
			if !got.IsAdmin {
				t.Errorf("admin profile IsAdmin = false, want true")
			}
			got, err = login(t, c, "nobody-named", "N0-name-pw!")
			if err != nil || got.FullName != "" {
				t.Errorf("null full_name: profile %+v, err %v; want FullName \"\"", got, err)
			}

			_, err = login(t, c, "alice", "wrong-password")
			wantCode(t, err, auth.CodeInvalidCredentials)
			if !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Errorf("errors.Is(%v, ErrInvalidCredentials) = false, want true", err)
			}
			_, err = login(t, c, "mallory", alicePassword)
			wantCode(t, err, auth.CodeInvalidCredentials)

			if n := s.RequestsTo(tc.other); n != 0 {
				t.Errorf("requests to %s = %d, want 0", tc.other, n)
			}
			// One probe without credentials, then one request per login.
			if got, want := s.RequestsTo(tc.path), 1+5; got != want {
				t.Errorf("requests to %s = %d, want %d", tc.path, got, want)
			}
		})
	}
}

func TestVersionIsCached(t *testing.T) {
	s := fake(t, gpustacktest.Options{Version: "v2.0.1"})
	clk := newClock()
	c := newClient(t, Options{URL: s.URL(), Now: clk.Now})
	for i := range 20 {
		if _, err := login(t, c, "alice", alicePassword); err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	if got := s.RequestsTo("/version"); got != 1 {
		t.Errorf("GET /version count after 20 logins = %d, want 1", got)
	}
	clk.Add(versionTTL)
	if _, err := login(t, c, "alice", alicePassword); err != nil {
		t.Fatal(err)
	}
	if got := s.RequestsTo("/version"); got != 2 {
		t.Errorf("GET /version count after the cache expired = %d, want 2", got)
	}
}

func TestUpgradeIsNoticedOn404(t *testing.T) {
	s := fake(t, gpustacktest.Options{Version: "v0.6.2"})
	c := newClient(t, Options{URL: s.URL()})
	if _, err := login(t, c, "alice", alicePassword); err != nil {
		t.Fatal(err)
	}
	s.SetVersion("v2.0.1")
	got, err := login(t, c, "alice", alicePassword)
	if err != nil {
		t.Fatalf("login after the upgrade: %v", err)
	}
	if !got.IsActive || got.Username != "alice" {
		t.Errorf("profile = %+v, want alice, active", got)
	}
	if got := s.RequestsTo("/version"); got != 2 {
		t.Errorf("GET /version count = %d, want 2 (once more after the 404)", got)
	}
}

// versionServer answers /version with version and delegates the rest.
func versionServer(t *testing.T, version string, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/version" {
			fmt.Fprintf(w, `{"version":%q,"git_commit":"1a2b3c4"}`, version)
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// usersMe answers like GPUStack on route: 401 without or with wrong
// credentials, body for alice's.
func usersMe(route, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != route {
			http.Error(w, `{"detail":"Not Found"}`, http.StatusNotFound)
			return
		}
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != alicePassword {
			http.Error(w, `{"code":401,"reason":"Unauthorized","message":"Invalid authentication credentials"}`, http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, body)
	}
}

func TestDevelopmentBuildFindsItsRoute(t *testing.T) {
	for _, tc := range []struct{ version, route string }{
		{"v0.0.0", "/v2/users/me"},
		{"0.0.0", "/v1/users/me"},
	} {
		t.Run(tc.version+tc.route, func(t *testing.T) {
			srv := versionServer(t, tc.version, usersMe(tc.route, `{"username":"alice","is_admin":false}`))
			c := newClient(t, Options{URL: srv.URL})
			if _, err := login(t, c, "alice", alicePassword); err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
		})
	}
}

func TestExactUsername(t *testing.T) {
	s := fake(t, gpustacktest.Options{Version: "v2.0.1", CaseInsensitiveUsernames: true})
	c := newClient(t, Options{URL: s.URL(), FailureThreshold: 1})
	for _, name := range []string{"ALICE", "Alice", "alicE"} {
		_, err := login(t, c, name, alicePassword)
		wantCode(t, err, auth.CodeInvalidCredentials)
	}
	// Rejected profiles are answers, not failures: the circuit stays closed.
	if _, err := login(t, c, "alice", alicePassword); err != nil {
		t.Fatalf("Authenticate(alice) after rejected profiles: %v", err)
	}
}

// A server that vouches with another user's profile only when credentials
// are sent (so the probe without credentials does not catch it) is still
// refused, and that is not a failure of the upstream.
func TestAnotherUsersProfileIsRejected(t *testing.T) {
	admin := `{"username":"admin","is_admin":true,"is_active":true,"source":"Local"}`
	srv := versionServer(t, "v2.0.1", func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := r.BasicAuth(); !ok {
			http.Error(w, `{"code":401}`, http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, admin)
	})
	c := newClient(t, Options{URL: srv.URL, FailureThreshold: 1})
	for range 3 {
		_, err := login(t, c, "alice", "anything")
		wantCode(t, err, auth.CodeInvalidCredentials)
	}
}

func TestLocalhostFirstAdminIsNeverTrusted(t *testing.T) {
	for _, version := range []string{"v0.6.2", "v2.0.1"} {
		t.Run(version, func(t *testing.T) {
			s := fake(t, gpustacktest.Options{Version: version})
			s.AnswerFirstAdminToLocalhost(true)
			c := newClient(t, Options{URL: s.URL(), FailureThreshold: 100})
			for _, tc := range []struct{ username, password string }{
				{"admin", "not-the-admin-password"}, // the profile's username matches
				{"alice", "wrong-password"},
				{"mallory", "anything"},
				{"alice", alicePassword},
			} {
				got, err := login(t, c, tc.username, tc.password)
				if err == nil {
					t.Fatalf("Authenticate(%s, %s) = %+v, nil; want an error", tc.username, tc.password, got)
				}
				wantCode(t, err, auth.CodeUnavailable)
				if !errors.Is(err, errLocalhostAdmin) {
					t.Errorf("err = %v, want it to explain the localhost fallback", err)
				}
			}
			s.AnswerFirstAdminToLocalhost(false) // restarted with --force-auth-localhost
			if _, err := login(t, c, "alice", alicePassword); err != nil {
				t.Errorf("Authenticate after the fallback is off: %v", err)
			}
		})
	}
}

func TestSourceRule(t *testing.T) {
	s := fake(t, gpustacktest.Options{Version: "v2.0.1"})
	s.AddExternalUser("bob", "B0b-Pa55word!", "Bob", "OIDC")
	s.AddExternalUser("carol", "C4rol-Pa55word!", "Carol", "SAML")
	c := newClient(t, Options{URL: s.URL(), FailureThreshold: 1})
	_, err := login(t, c, "bob", "B0b-Pa55word!")
	wantCode(t, err, auth.CodeInvalidCredentials)
	_, err = login(t, c, "carol", "C4rol-Pa55word!")
	wantCode(t, err, auth.CodeInvalidCredentials)
	if _, err := login(t, c, "alice", alicePassword); err != nil {
		t.Fatalf("Authenticate(alice) after non-Local profiles: %v", err)
	}

	for _, tc := range []struct{ name, body string }{
		{"null source", `{"username":"alice","is_admin":false,"is_active":true,"source":null}`},
		{"lower-case local", `{"username":"alice","is_admin":false,"is_active":true,"source":"local"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := versionServer(t, "v2.0.1", usersMe("/v2/users/me", tc.body))
			_, err := login(t, newClient(t, Options{URL: srv.URL}), "alice", alicePassword)
			wantCode(t, err, auth.CodeInvalidCredentials)
		})
	}
}

func TestInactiveUser(t *testing.T) {
	// GPUStack itself answers a deactivated user's Basic login with 401.
	s := fake(t, gpustacktest.Options{Version: "v2.2.0"})
	s.AddUser("dave", "D4ve-Pa55word!", "Dave", false, false)
	_, err := login(t, newClient(t, Options{URL: s.URL()}), "dave", "D4ve-Pa55word!")
	wantCode(t, err, auth.CodeInvalidCredentials)

	// A profile that says inactive is passed on for the core to decide.
	srv := versionServer(t, "v2.0.1", usersMe("/v2/users/me",
		`{"username":"alice","is_admin":false,"is_active":false,"full_name":null,"source":"Local"}`))
	got, err := login(t, newClient(t, Options{URL: srv.URL}), "alice", alicePassword)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if got.IsActive {
		t.Errorf("IsActive = true, want false")
	}
}

func TestCredentialsBasicCannotCarry(t *testing.T) {
	s := fake(t, gpustacktest.Options{})
	c := newClient(t, Options{URL: s.URL()})
	for _, tc := range []struct{ username, password string }{
		{"", alicePassword},
		{"alice", ""},
		{"ali:ce", alicePassword},
		{"alice\xff", alicePassword},
		{strings.Repeat("a", maxUsername+1), alicePassword},
		{"alice", strings.Repeat("p", maxPassword+1)},
	} {
		_, err := login(t, c, tc.username, tc.password)
		wantCode(t, err, auth.CodeInvalidCredentials)
	}
	if got := s.Requests(); got != 0 {
		t.Errorf("requests = %d, want 0", got)
	}
}

func TestRequestCarriesOnlyTheseCredentials(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	srv := versionServer(t, "v2.0.1", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "gpustack_session", Value: "session-of-someone", Path: "/"})
		usersMe("/v2/users/me", `{"username":"alice","is_admin":false}`)(w, r)
	})
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Options{URL: srv.URL, HTTPClient: &http.Client{Jar: jar}})
	for range 2 {
		if _, err := login(t, c, "alice", alicePassword); err != nil {
			t.Fatal(err)
		}
	}
	allowed := map[string]bool{"Authorization": true, "Accept": true, "User-Agent": true, "Accept-Encoding": true}
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+alicePassword))
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 { // probe, then two logins
		t.Fatalf("users/me requests = %d, want 3", len(seen))
	}
	for i, h := range seen {
		for k := range h {
			if !allowed[k] {
				t.Errorf("request %d has header %s, want only %v", i, k, allowed)
			}
		}
		if got := h.Get("Accept"); got != "application/json" {
			t.Errorf("request %d Accept = %q, want application/json", i, got)
		}
		if got := h.Get("User-Agent"); !strings.Contains(got, "authfn") {
			t.Errorf("request %d User-Agent = %q, want it to name authfn", i, got)
		}
	}
	if got := seen[0].Get("Authorization"); got != "" {
		t.Errorf("probe Authorization = %q, want none", got)
	}
	for _, h := range seen[1:] {
		if got := h.Get("Authorization"); got != wantAuth {
			t.Errorf("Authorization = %q, want %q", got, wantAuth)
		}
	}
}

func TestTimeout(t *testing.T) {
	s := fake(t, gpustacktest.Options{})
	s.SetDelay(3 * time.Second)
	c := newClient(t, Options{URL: s.URL(), Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := login(t, c, "alice", alicePassword)
	elapsed := time.Since(start)
	wantCode(t, err, auth.CodeUnavailable)
	if elapsed > time.Second {
		t.Errorf("Authenticate took %v against a 3s server, want about the 200ms timeout", elapsed)
	}
}

func TestCallerCancellationIsNoFailure(t *testing.T) {
	s := fake(t, gpustacktest.Options{})
	s.SetDelay(time.Second)
	c := newClient(t, Options{URL: s.URL(), FailureThreshold: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Authenticate(ctx, "alice", alicePassword)
	wantCode(t, err, auth.CodeUnavailable)
	s.SetDelay(0)
	if _, err := login(t, c, "alice", alicePassword); err != nil {
		t.Fatalf("Authenticate after the caller gave up: %v (the caller's cancellation opened the circuit?)", err)
	}
}

func TestUpstreamFailures(t *testing.T) {
	// Valid JSON at any length, so only the size limit can refuse it.
	oversized := `{"username":"alice","is_admin":false}` + strings.Repeat(" ", maxBody)
	tests := []struct {
		name  string
		setup func(t *testing.T) string // returns the URL
	}{
		{"503", func(t *testing.T) string {
			s := fake(t, gpustacktest.Options{})
			s.SetDown(true)
			return s.URL()
		}},
		{"connections dropped", func(t *testing.T) string {
			s := fake(t, gpustacktest.Options{})
			s.SetDropConnections(true)
			return s.URL()
		}},
		{"connection refused", func(t *testing.T) string {
			srv := httptest.NewServer(http.NotFoundHandler())
			srv.Close()
			return srv.URL
		}},
		{"500 on users/me", func(t *testing.T) string {
			return versionServer(t, "v2.0.1", func(w http.ResponseWriter, r *http.Request) {
				if _, _, ok := r.BasicAuth(); !ok {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				http.Error(w, `{"code":500,"reason":"InternalServerError","message":"db"}`, http.StatusInternalServerError)
			}).URL
		}},
		{"malformed 200", func(t *testing.T) string {
			return versionServer(t, "v2.0.1", usersMe("/v2/users/me", `<html>login</html>`)).URL
		}},
		{"200 without username", func(t *testing.T) string {
			return versionServer(t, "v2.0.1", usersMe("/v2/users/me", `{"is_admin":false}`)).URL
		}},
		{"oversized body", func(t *testing.T) string {
			return versionServer(t, "v2.0.1", usersMe("/v2/users/me", oversized)).URL
		}},
		{"garbage version", func(t *testing.T) string {
			return versionServer(t, "main", usersMe("/v2/users/me", `{}`)).URL
		}},
		{"no users/me route", func(t *testing.T) string {
			return versionServer(t, "v2.0.1", usersMe("/api/users/me", `{}`)).URL
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, Options{URL: tc.setup(t), FailureThreshold: 1})
			_, err := login(t, c, "alice", alicePassword)
			wantCode(t, err, auth.CodeUnavailable)
			if strings.Contains(err.Error(), alicePassword) {
				t.Errorf("error %q contains the password", err)
			}
			// Each of these is a failure: with threshold 1 the circuit is open.
			_, err = login(t, c, "alice", alicePassword)
			if !errors.Is(err, errCircuitOpen) {
				t.Errorf("second call: err = %v, want the circuit open", err)
			}
		})
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			var elsewhere int
			var mu sync.Mutex
			other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				elsewhere++
				mu.Unlock()
				fmt.Fprint(w, `{"username":"alice","is_admin":true}`)
			}))
			t.Cleanup(other.Close)
			srv := versionServer(t, "v2.0.1", func(w http.ResponseWriter, r *http.Request) {
				if _, _, ok := r.BasicAuth(); !ok {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				http.Redirect(w, r, other.URL+"/v2/users/me", status)
			})
			_, err := login(t, newClient(t, Options{URL: srv.URL}), "alice", alicePassword)
			wantCode(t, err, auth.CodeUnavailable)
			mu.Lock()
			defer mu.Unlock()
			if elsewhere != 0 {
				t.Errorf("redirect target got %d requests, want 0", elsewhere)
			}
		})
	}
}

func TestHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/version" {
			fmt.Fprint(w, `{"version":"v2.2.0","git_commit":"1a2b3c4"}`)
			return
		}
		usersMe("/v2/users/me", `{"username":"alice","is_admin":false,"is_active":true,"source":"Local"}`)(w, r)
	}))
	t.Cleanup(srv.Close)
	if _, err := login(t, newClient(t, Options{URL: srv.URL, HTTPClient: srv.Client()}), "alice", alicePassword); err != nil {
		t.Fatalf("Authenticate over TLS with the server's CA: %v", err)
	}
	// Without the test CA, verification must fail.
	_, err := login(t, newClient(t, Options{URL: srv.URL}), "alice", alicePassword)
	wantCode(t, err, auth.CodeUnavailable)
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("err = %v, want a certificate verification error", err)
	}
}

func TestCircuitBreaker(t *testing.T) {
	s := fake(t, gpustacktest.Options{Version: "v2.0.1"})
	clk := newClock()
	c := newClient(t, Options{URL: s.URL(), Now: clk.Now, FailureThreshold: 3, OpenFor: 30 * time.Second})

	// Failures separated by an answer do not add up.
	s.SetDown(true)
	for range 2 {
		_, err := login(t, c, "alice", alicePassword)
		wantCode(t, err, auth.CodeUnavailable)
	}
	s.SetDown(false)
	_, err := login(t, c, "alice", "wrong-password")
	wantCode(t, err, auth.CodeInvalidCredentials)
	s.SetDown(true)
	for range 2 {
		_, err := login(t, c, "alice", alicePassword)
		wantCode(t, err, auth.CodeUnavailable)
	}
	if _, err := login(t, c, "alice", alicePassword); errors.Is(err, errCircuitOpen) {
		t.Fatal("circuit opened after 2 consecutive failures, want 3")
	}

	// Three in a row: open, and nothing reaches the server.
	before := s.Requests()
	for range 5 {
		_, err := login(t, c, "alice", alicePassword)
		wantCode(t, err, auth.CodeUnavailable)
		if !errors.Is(err, errCircuitOpen) {
			t.Fatalf("err = %v, want the circuit open", err)
		}
	}
	clk.Add(29 * time.Second)
	if _, err := login(t, c, "alice", alicePassword); !errors.Is(err, errCircuitOpen) {
		t.Fatalf("after 29s: err = %v, want the circuit still open", err)
	}
	if got := s.Requests(); got != before {
		t.Fatalf("requests while open = %d, want 0", got-before)
	}

	// Half-open: one trial; it fails, so the circuit opens again.
	clk.Add(time.Second)
	_, err = login(t, c, "alice", alicePassword)
	if errors.Is(err, errCircuitOpen) || s.Requests() == before {
		t.Fatalf("after 30s: err = %v, requests = %d; want one trial call to reach the server", err, s.Requests()-before)
	}
	if _, err := login(t, c, "alice", alicePassword); !errors.Is(err, errCircuitOpen) {
		t.Fatalf("after a failed trial: err = %v, want the circuit open again", err)
	}

	// The next trial succeeds and closes it.
	s.SetDown(false)
	clk.Add(30 * time.Second)
	for i := range 3 {
		if _, err := login(t, c, "alice", alicePassword); err != nil {
			t.Fatalf("login %d after recovery: %v", i, err)
		}
	}
}

func TestHalfOpenLetsOneTrialThrough(t *testing.T) {
	s := fake(t, gpustacktest.Options{})
	clk := newClock()
	c := newClient(t, Options{URL: s.URL(), Now: clk.Now, FailureThreshold: 1, Timeout: 5 * time.Second})
	s.SetDown(true)
	_, err := login(t, c, "alice", alicePassword)
	wantCode(t, err, auth.CodeUnavailable)

	s.SetDown(false)
	s.SetDelay(200 * time.Millisecond)
	clk.Add(DefaultOpenFor)
	before := s.Requests()
	trial := make(chan error, 1)
	go func() {
		_, err := c.Authenticate(context.Background(), "alice", alicePassword)
		trial <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for s.Requests() == before {
		if time.Now().After(deadline) {
			t.Fatal("the trial call never reached the server")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	_, err = login(t, c, "alice", alicePassword)
	if !errors.Is(err, errCircuitOpen) {
		t.Errorf("call during the trial: err = %v, want the circuit open", err)
	}
	if elapsed := time.Since(start); elapsed > 100*time.Millisecond {
		t.Errorf("call during the trial took %v, want it refused at once", elapsed)
	}
	if err := <-trial; err != nil {
		t.Fatalf("trial: %v", err)
	}
	if _, err := login(t, c, "alice", alicePassword); err != nil {
		t.Fatalf("after a successful trial: %v", err)
	}
}

func TestConcurrentLogins(t *testing.T) {
	s := fake(t, gpustacktest.Options{Version: "v2.2.0"})
	c := newClient(t, Options{URL: s.URL(), Timeout: 10 * time.Second})
	var wg sync.WaitGroup
	errs := make(chan error, 64*10)
	for g := range 64 {
		wg.Go(func() {
			for i := range 10 {
				right := (g+i)%2 == 0
				password := alicePassword
				if !right {
					password = "wrong-password"
				}
				u, err := c.Authenticate(context.Background(), "alice", password)
				switch {
				case right && (err != nil || u.Username != "alice"):
					errs <- fmt.Errorf("right password: %+v, %v", u, err)
				case !right && auth.ErrorCode(err) != auth.CodeInvalidCredentials:
					errs <- fmt.Errorf("wrong password: err = %v, want invalid_credentials", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := s.RequestsTo("/version"); got != 1 {
		t.Errorf("GET /version count = %d, want 1", got)
	}
}

func TestNoSecretInErrors(t *testing.T) {
	const password = "Very-Secret-Pa55!"
	encoded := base64.StdEncoding.EncodeToString([]byte("alice:" + password))
	check := func(t *testing.T, err error) {
		t.Helper()
		if err == nil {
			t.Fatal("err = nil, want an error")
		}
		for _, secret := range []string{password, encoded, "url-secret"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q contains %q", err, secret)
			}
		}
	}
	s := fake(t, gpustacktest.Options{})
	s.AddUser("bob", password, "Bob", false, true)
	url := strings.Replace(s.URL(), "http://", "http://alice:url-secret@", 1)
	c := newClient(t, Options{URL: url, FailureThreshold: 100, Timeout: 200 * time.Millisecond})

	_, err := login(t, c, "alice", password) // 401
	check(t, err)
	_, err = login(t, c, "bob", password+"x")
	check(t, err)
	s.SetDown(true)
	_, err = login(t, c, "alice", password)
	check(t, err)
	s.SetDown(false)
	s.SetDelay(time.Second)
	_, err = login(t, c, "alice", password)
	check(t, err)
	s.SetDelay(0)
	s.SetDropConnections(true)
	_, err = login(t, c, "alice", password)
	check(t, err)
	s.SetDropConnections(false)
	s.AnswerFirstAdminToLocalhost(true)
	s.AddUser("root", "R00t-Pa55word!", "", true, true)
	_, err = login(t, c, "alice", password)
	check(t, err)

	open := newClient(t, Options{URL: url, FailureThreshold: 1})
	s.SetDown(true)
	_, err = login(t, open, "alice", password)
	check(t, err)
	_, err = login(t, open, "alice", password) // circuit open
	check(t, err)
}
