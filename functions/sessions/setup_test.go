package sessions_test

import (
	"encoding/json"
	"net/url"
	"strconv"
	"testing"

	"authfn/pkg/auth"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

const (
	password      = "correct horse battery"
	adminPassword = "admin horse battery"
	base          = "/api/auth/v2"
)

type fixture struct {
	*testenv.Served
	// admin is the caller of most requests: an admin logged in through the route.
	admin      auth.User
	adminPair  auth.TokenPair
	adminAuthz []string
}

// setup serves the sessions group and the login group (to sign in) on
// one mux behind the real middleware, on real stores, and logs in an admin.
func setup(t testing.TB) *fixture {
	t.Helper()
	f := serve(t, testenv.New(t))
	f.admin = f.CreateUser(t, "root", adminPassword, true)
	f.adminPair = f.Login(t, "root", adminPassword)
	f.adminAuthz = testenv.Bearer(f.adminPair.AccessToken)
	return f
}

func serve(t testing.TB, env *testenv.Env) *fixture {
	t.Helper()
	return &fixture{Served: env.Serve(t, web.Options{}, "LoginFunction", "SessionsFunction")}
}

func (f *fixture) do(t testing.TB, method, path string, body any, headers ...string) *testenv.Response {
	t.Helper()
	return f.HTTP(t).Do(method, path, body, headers...)
}

// as sends a request with the admin's token.
func (f *fixture) as(t testing.TB, method, path string, body any, headers ...string) *testenv.Response {
	t.Helper()
	return f.do(t, method, path, body, append(append([]string{}, f.adminAuthz...), headers...)...)
}

// user creates a user through the core.
func (f *fixture) user(t testing.TB, username string) auth.User {
	t.Helper()
	return f.CreateUser(t, username, password, false)
}

// sessionList is the body of GET /sessions.
type sessionList struct {
	Sessions   []auth.Session    `json:"sessions"`
	NextCursor *string           `json:"next_cursor"`
	Stats      auth.SessionStats `json:"stats"`
}

// list reads one page of GET /sessions.
func (f *fixture) list(t testing.TB, limit int, cursor string) sessionList {
	t.Helper()
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	r := f.as(t, "GET", base+"/sessions?"+q.Encode(), nil).Want(200)
	var raw map[string]json.RawMessage
	r.JSON(&raw)
	for _, k := range []string{"sessions", "next_cursor", "stats"} {
		if _, ok := raw[k]; !ok {
			t.Fatalf("GET /sessions has no %q: %s", k, r.Body)
		}
	}
	var l sessionList
	r.JSON(&l)
	return l
}

// stats reads the totals of GET /sessions.
func (f *fixture) stats(t testing.TB) auth.SessionStats {
	t.Helper()
	return f.list(t, 1, "").Stats
}

// userSessions reads GET /sessions/{user_id}.
func (f *fixture) userSessions(t testing.TB, id int64) []auth.Session {
	t.Helper()
	var out struct {
		Sessions []auth.Session `json:"sessions"`
	}
	f.as(t, "GET", sessionsPath(id), nil).Want(200).JSON(&out)
	if out.Sessions == nil {
		t.Fatalf("sessions = null, want a list")
	}
	return out.Sessions
}

func sessionsPath(id int64) string { return base + "/sessions/" + strconv.FormatInt(id, 10) }

func sessionIDs(ss []auth.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}
