//go:build browser

package console_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"authfn/functions"
	"authfn/pkg/auth"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

// service is one scenario's authfn: every endpoint group, the console's
// included, on real PostgreSQL (a fresh database) and Redis (a fresh
// prefix), behind the real middleware, on a loopback port. A fresh one
// per scenario keeps counts and audit trails the scenario's own.
type service struct {
	t   *testing.T
	env *testenv.Env
	url string // the origin, http://127.0.0.1:port
	hc  *http.Client
}

const consolePath = "/api/auth/v2/console/"

func newService(t *testing.T) *service {
	t.Helper()
	env := testenv.New(t)
	mux := http.NewServeMux()
	functions.RegisterAll(mux, env.App)
	srv := httptest.NewServer(web.Stack(env.App.Logger, mux, env.App.Web))
	t.Cleanup(srv.Close)
	return &service{t: t, env: env, url: srv.URL, hc: &http.Client{Timeout: 10 * time.Second}}
}

// user makes an account in the store, as testenv does for fixtures.
func (s *service) user(name, password string, admin bool) auth.User {
	s.t.Helper()
	return s.env.CreateUser(s.t, name, password, admin)
}

// problem is the part of an error answer a test reads.
type problem struct {
	Code     string `json:"code"`
	Detail   string `json:"detail"`
	MFAToken string `json:"mfa_token"`
}

// api calls the API as a client would, with token as the bearer (when
// given) and headers as name, value pairs, decodes the answer into out
// (when given) and returns the status.
func (s *service) api(method, path, token string, body, out any, headers ...string) int {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+"/api/auth/v2"+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// want calls the API and fails the scenario unless the status is status.
func (s *service) want(status int, method, path, token string, body, out any, headers ...string) {
	s.t.Helper()
	var p json.RawMessage
	got := s.api(method, path, token, body, &p, headers...)
	if got != status {
		s.t.Fatalf("%s %s = %d, want %d: %s", method, path, got, status, p)
	}
	if out != nil {
		if err := json.Unmarshal(p, out); err != nil {
			s.t.Fatalf("%s %s: %s: %v", method, path, p, err)
		}
	}
}

// login signs in through the API, failing the scenario on anything but 200.
func (s *service) login(username, password string, headers ...string) auth.TokenPair {
	s.t.Helper()
	var p auth.TokenPair
	s.want(200, "POST", "/login", "", map[string]string{"username": username, "password": password}, &p, headers...)
	return p
}

// apiUser is GET /users/{id}, or nil when that is a 404.
func (s *service) apiUser(token string, id int64) *auth.User {
	s.t.Helper()
	var u auth.User
	switch code := s.api("GET", "/users/"+strconv.FormatInt(id, 10), token, nil, &u); code {
	case 200:
		return &u
	case 404:
		return nil
	default:
		s.t.Fatalf("GET /users/%d = %d", id, code)
		return nil
	}
}

// userNamed finds a user by name through GET /users?q=.
func (s *service) userNamed(token, name string) *auth.User {
	s.t.Helper()
	var page struct {
		Users []auth.User `json:"users"`
	}
	s.want(200, "GET", "/users?q="+name, token, nil, &page)
	for _, u := range page.Users {
		if u.Username == name {
			return &u
		}
	}
	return nil
}

// enrolMFA turns MFA on for the holder of access through the API and
// returns the secret; the activating code's step is used up.
func (s *service) enrolMFA(access, password string) string {
	s.t.Helper()
	var start struct {
		Secret string `json:"secret"`
	}
	s.want(200, "POST", "/me/mfa/totp", access, map[string]string{"current_password": password}, &start)
	code := testenv.TOTP(s.t, start.Secret, s.env.Clock.Now())
	s.want(200, "POST", "/me/mfa/totp/activate", access, map[string]string{"code": code}, nil)
	return start.Secret
}

// eventually retries check for a few seconds: the page's own request may
// still be on its way when the page already shows its outcome.
func eventually(check func() bool) bool {
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if check() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
