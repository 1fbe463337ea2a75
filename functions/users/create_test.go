package users_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
	"authfn/pkg/testenv"
)

func TestUserCreate(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.Clock.Advance(time.Minute)
	now := f.Clock.Now().UTC()
	r := f.as(t, "POST", base+"/users", map[string]any{
		"username": "Alice", "password": password, "full_name": "Alice Liddell",
	}).Want(201)
	var raw map[string]any
	r.JSON(&raw)
	for k := range raw {
		if strings.Contains(strings.ToLower(k), "password") || strings.Contains(strings.ToLower(k), "hash") {
			t.Errorf("the created user has a field %q", k)
		}
	}
	if strings.Contains(r.Body.String(), password) {
		t.Errorf("the response contains the password: %s", r.Body)
	}
	got := user(r)
	want := auth.User{
		ID: got.ID, Username: "Alice", FullName: "Alice Liddell", IsAdmin: false, IsActive: true,
		Source: auth.SourceLocal, CreatedAt: now, UpdatedAt: now,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("created user (-want +got):\n%s", diff)
	}
	if loc, want := r.Header().Get("Location"), userPath(got.ID); loc != want {
		t.Errorf("Location = %q, want %q", loc, want)
	}
	// The Location names the user.
	if diff := cmp.Diff(got, f.getUser(t, got.ID)); diff != "" {
		t.Errorf("GET Location (-created +read):\n%s", diff)
	}
	// The new user can log in, in any case of the name, and is no admin.
	p := f.Login(t, "alice", password)
	if p.User.ID != got.ID || claims(t, p.AccessToken).Admin {
		t.Errorf("login as the new user: id %d admin %v, want %d false", p.User.ID, claims(t, p.AccessToken).Admin, got.ID)
	}
	f.do(t, "GET", base+"/users", nil, testenv.Bearer(p.AccessToken)...).Want(403, "forbidden")

	// Optional fields may be left out.
	bare := user(f.as(t, "POST", base+"/users", map[string]any{"username": "bob", "password": password}).Want(201))
	if bare.FullName != "" || bare.IsAdmin || !bare.IsActive {
		t.Errorf("minimal user = %+v, want no full name, not admin, active", bare)
	}

	// A duplicate in another case is a conflict, and nothing changes.
	for _, name := range []string{"Alice", "alice", "ALICE", "BOB"} {
		f.as(t, "POST", base+"/users", map[string]any{"username": name, "password": "another password"}).Want(409, "conflict")
	}
	f.Login(t, "alice", password)
	if n := len(f.Events(t, auth.EventUserCreated)); n != 3 { // root, Alice, bob
		t.Errorf("%d user.created events, want 3", n)
	}

	t.Run("admin", func(t *testing.T) { createAdmin(t, f) })
	t.Run("no secrets", func(t *testing.T) { noSecrets(t, f) })
}

// createAdmin: is_admin true makes an admin who can use admin routes at once.
func createAdmin(t *testing.T, f *fixture) {
	got := user(f.as(t, "POST", base+"/users", map[string]any{
		"username": "second", "password": password, "is_admin": true,
	}).Want(201))
	if !got.IsAdmin {
		t.Fatalf("is_admin = false, want true")
	}
	p := f.Login(t, "second", password)
	if !claims(t, p.AccessToken).Admin {
		t.Error("the new admin's token does not say admin")
	}
	bearer := testenv.Bearer(p.AccessToken)
	f.do(t, "GET", base+"/users", nil, bearer...).Want(200)
	third := user(f.do(t, "POST", base+"/users", map[string]any{"username": "third", "password": password}, bearer...).Want(201))
	f.do(t, "PATCH", userPath(third.ID), map[string]any{"full_name": "Third"}, bearer...).Want(200)
}

// TestUserCreateRefused: bad input gets the right answer and never
// reaches the store.
func TestUserCreateRefused(t *testing.T) {
	t.Parallel()
	f := setup(t)
	t.Run("validation", func(t *testing.T) { createValidation(t, f) })
	t.Run("bad requests", func(t *testing.T) { createBadRequests(t, f) })
	// Nothing was created; in particular the 73-byte password was refused,
	// never cut to 72 bytes and accepted.
	if got, _ := f.walk(t, "", 200); len(got) != 1 {
		t.Errorf("%d users after refused creations, want 1 (the admin)", len(got))
	}
	if st, _ := f.loginStatus(t, "alice", password); st != 401 {
		t.Errorf("login as alice = %d, want 401", st)
	}

	// The bounds themselves are accepted.
	for _, body := range []map[string]any{
		{"username": "abc", "password": strings.Repeat("p", 8)},
		{"username": strings.Repeat("b", 64), "password": strings.Repeat("p", 72), "full_name": strings.Repeat("ñ", 128)},
		{"username": "c.d_e-f@g", "password": strings.Repeat("€", 24), "full_name": "O'Brien – Ünïcode"},
	} {
		u := user(f.as(t, "POST", base+"/users", body).Want(201))
		f.Login(t, u.Username, body["password"].(string))
	}
	// A JSON body with the right media type and a charset is fine.
	f.as(t, "POST", base+"/users", `{"username":"alice","password":"`+password+`"}`, "Content-Type", "application/json; charset=utf-8").Want(201)
}

func createValidation(t *testing.T, f *fixture) {
	for _, tc := range []struct {
		name   string
		body   map[string]any
		fields []string
	}{
		{"short username", map[string]any{"username": "ab", "password": password}, []string{"username"}},
		{"long username", map[string]any{"username": strings.Repeat("a", 65), "password": password}, []string{"username"}},
		{"space in username", map[string]any{"username": "al ice", "password": password}, []string{"username"}},
		{"unicode username", map[string]any{"username": "alïce", "password": password}, []string{"username"}},
		{"missing username", map[string]any{"password": password}, []string{"username"}},
		{"short password", map[string]any{"username": "alice", "password": "1234567"}, []string{"password"}},
		{"missing password", map[string]any{"username": "alice"}, []string{"password"}},
		{"73-byte password", map[string]any{"username": "alice", "password": strings.Repeat("p", 73)}, []string{"password"}},
		{"72 bytes of 3-byte runes and one more", map[string]any{"username": "alice", "password": strings.Repeat("€", 24) + "x"}, []string{"password"}},
		{"long full name", map[string]any{"username": "alice", "password": password, "full_name": strings.Repeat("n", 129)}, []string{"full_name"}},
		{"newline in full name", map[string]any{"username": "alice", "password": password, "full_name": "Alice\nLiddell"}, []string{"full_name"}},
		{"bell in full name", map[string]any{"username": "alice", "password": password, "full_name": "Alice\aLiddell"}, []string{"full_name"}},
		{"NUL in full name", map[string]any{"username": "alice", "password": password, "full_name": "Alice\x00"}, []string{"full_name"}},
		{"DEL in full name", map[string]any{"username": "alice", "password": password, "full_name": "Alice\x7f"}, []string{"full_name"}},
		{"everything wrong", map[string]any{"username": "a", "password": "p", "full_name": "\t"}, []string{"full_name", "password", "username"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.as(t, "POST", base+"/users", tc.body).Want(422, "validation_failed")
			if got := fieldsOf(t, r); !slices.Equal(got, tc.fields) {
				t.Errorf("errors fields = %v, want %v", got, tc.fields)
			}
		})
	}
}

func createBadRequests(t *testing.T, f *fixture) {
	ok := `{"username":"alice","password":"` + password + `"}`
	for _, tc := range []struct {
		name   string
		body   string
		ctype  string
		status int
		code   string
		field  string
	}{
		{"malformed JSON", `{"username":"alice",`, "", 400, "invalid_request", ""},
		{"not an object", `["alice"]`, "", 400, "invalid_request", ""},
		{"two values", ok + ok, "", 400, "invalid_request", ""},
		{"empty body", ``, "", 400, "invalid_request", ""},
		{"unknown field password_hash", `{"username":"alice","password":"` + password + `","password_hash":"$2a$04$x"}`, "", 400, "invalid_request", ""},
		{"unknown field id", `{"id":7,"username":"alice","password":"` + password + `"}`, "", 400, "invalid_request", ""},
		{"unknown field is_active", `{"username":"alice","password":"` + password + `","is_active":false}`, "", 400, "invalid_request", ""},
		{"unknown field source", `{"username":"alice","password":"` + password + `","source":"gpustack"}`, "", 400, "invalid_request", ""},
		{"username a number", `{"username":5,"password":"` + password + `"}`, "", 422, "validation_failed", "username"},
		{"password a number", `{"username":"alice","password":12345678}`, "", 422, "validation_failed", "password"},
		{"is_admin a string", `{"username":"alice","password":"` + password + `","is_admin":"yes"}`, "", 422, "validation_failed", "is_admin"},
		{"full_name an object", `{"username":"alice","password":"` + password + `","full_name":{}}`, "", 422, "validation_failed", "full_name"},
		{"invalid UTF-8", "{\"username\":\"al\xffce\",\"password\":\"" + password + "\"}", "", 400, "invalid_request", ""},
		{"over 64 KiB", `{"username":"alice","password":"` + password + `","full_name":"` + strings.Repeat("a", 64<<10) + `"}`, "", 413, "payload_too_large", ""},
		{"text/plain", ok, "text/plain", 415, "unsupported_media_type", ""},
		{"form", url.Values{"username": {"alice"}, "password": {password}}.Encode(), "application/x-www-form-urlencoded", 415, "unsupported_media_type", ""},
		{"no content type", ok, "-", 415, "unsupported_media_type", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			switch tc.ctype {
			case "":
			case "-":
				headers = []string{"Content-Type", ""}
			default:
				headers = []string{"Content-Type", tc.ctype}
			}
			r := f.as(t, "POST", base+"/users", tc.body, headers...).Want(tc.status, tc.code)
			if tc.field != "" {
				if got := fieldsOf(t, r); !slices.Equal(got, []string{tc.field}) {
					t.Errorf("errors fields = %v, want [%s]", got, tc.field)
				}
			}
		})
	}
}

// noSecrets: the password given at creation never comes back, in a body
// or a log line (docs/security.md 5, 25).
func noSecrets(t *testing.T, f *fixture) {
	const secret = "s3cret-create-pw"
	const reset = "s3cret-reset-pw"
	u := user(f.as(t, "POST", base+"/users", map[string]any{"username": "carol", "password": secret}).Want(201))
	bodies := []string{}
	for _, r := range []*testenv.Response{
		f.as(t, "GET", userPath(u.ID), nil).Want(200),
		f.as(t, "GET", base+"/users", nil).Want(200),
		f.as(t, "PATCH", userPath(u.ID), map[string]any{"password": reset}).Want(200),
		f.as(t, "PATCH", userPath(u.ID), map[string]any{"password": "short"}).Want(422),
	} {
		bodies = append(bodies, r.Body.String())
	}
	var all map[string]json.RawMessage
	for _, b := range bodies {
		if strings.Contains(b, secret) || strings.Contains(b, reset) || strings.Contains(b, `"short"`) {
			t.Errorf("a response contains a password: %s", b)
		}
		if json.Unmarshal([]byte(b), &all) == nil {
			if _, ok := all["password"]; ok {
				t.Errorf("a response has a password field: %s", b)
			}
		}
	}
	logs := f.Logs.String()
	if !strings.Contains(logs, `"request_id"`) {
		t.Fatalf("no request logs captured")
	}
	for _, s := range []string{secret, reset, f.adminPair.AccessToken, f.adminPair.RefreshToken} {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains a secret (%.8s...)", s)
		}
	}
}
