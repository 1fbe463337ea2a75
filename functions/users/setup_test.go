package users_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
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

// route is a request to one of the group's routes.
type route struct {
	method, path string
	body         any
}

type fixture struct {
	*testenv.Served
	// admin is the caller of most requests: an admin logged in through the route.
	admin      auth.User
	adminPair  auth.TokenPair
	adminAuthz []string
}

// setup serves the users group and the login group (to sign in) on one
// mux behind the real middleware, on real stores, and logs in an admin.
func setup(t *testing.T) *fixture {
	t.Helper()
	f := serve(t, testenv.New(t))
	f.admin = f.CreateUser(t, "root", adminPassword, true)
	f.admin.PasswordHash = ""
	f.adminPair = f.Login(t, "root", adminPassword)
	f.adminAuthz = testenv.Bearer(f.adminPair.AccessToken)
	return f
}

func serve(t *testing.T, env *testenv.Env) *fixture {
	t.Helper()
	return &fixture{Served: env.Serve(t, web.Options{}, "LoginFunction", "UsersFunction")}
}

// http returns a client that reports to t.
func (f *fixture) http(t testing.TB) *testenv.HTTP { return f.HTTP(t) }

// do sends a request and checks what no response may ever carry: a
// password hash (docs/security.md 5).
func (f *fixture) do(t *testing.T, method, path string, body any, headers ...string) *testenv.Response {
	t.Helper()
	r := f.http(t).Do(method, path, body, headers...)
	for _, leak := range []string{"$2a$", "$2b$", "$2y$"} {
		if strings.Contains(r.Body.String(), leak) {
			t.Errorf("%s %s: response contains %q: %s", method, path, leak, r.Body)
		}
	}
	return r
}

// as sends a request with the admin's token.
func (f *fixture) as(t *testing.T, method, path string, body any, headers ...string) *testenv.Response {
	t.Helper()
	return f.do(t, method, path, body, append(append([]string{}, f.adminAuthz...), headers...)...)
}

// loginStatus tries to sign in and returns the status and problem code.
func (f *fixture) loginStatus(t *testing.T, username, pw string) (int, auth.Code) {
	t.Helper()
	r := f.http(t).Do("POST", base+"/login", map[string]string{"username": username, "password": pw})
	if r.Code == 200 {
		return 200, ""
	}
	return r.Code, r.Problem().Code
}

// mustCreate creates a user through the core, with a full name.
func (f *fixture) mustCreate(t *testing.T, username, fullName string, admin bool) auth.User {
	t.Helper()
	u, err := f.Auth.Admin.CreateUser(context.Background(), auth.Session{UserID: f.admin.ID}, auth.NewUserInput{
		Username: username, Password: password, FullName: fullName, IsAdmin: admin,
	})
	if err != nil {
		t.Fatalf("create user %s: %v", username, err)
	}
	u.PasswordHash = "" // as the API shows it
	return u
}

// user decodes a User from a response.
func user(r *testenv.Response) auth.User {
	var u auth.User
	r.JSON(&u)
	return u
}

// getUser reads a user through the route.
func (f *fixture) getUser(t *testing.T, id int64) auth.User {
	t.Helper()
	return user(f.as(t, "GET", userPath(id), nil).Want(200))
}

func userPath(id int64) string { return base + "/users/" + strconv.FormatInt(id, 10) }

// eventsOf returns the events of type typ whose target is id.
func (f *fixture) eventsOf(t *testing.T, typ string, id int64) []auth.Event {
	t.Helper()
	var out []auth.Event
	for _, e := range f.Events(t, typ) {
		if e.TargetID != nil && *e.TargetID == id {
			out = append(out, e)
		}
	}
	return out
}

// claims decodes (without verifying) the payload of an access token.
func claims(t *testing.T, token string) auth.AccessClaims {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("access token is not a JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c auth.AccessClaims
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// fieldsOf lists the fields a validation problem names, in order.
func fieldsOf(t *testing.T, r *testenv.Response) []string {
	t.Helper()
	var fields []string
	for _, e := range r.Problem().Errors {
		if e.Message == "" {
			t.Errorf("field %s has no message", e.Field)
		}
		fields = append(fields, e.Field)
	}
	return fields
}
