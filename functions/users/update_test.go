package users_test

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
	"authfn/pkg/testenv"
)

// TestUserUpdate: what an admin may change, each on a user of its own.
func TestUserUpdate(t *testing.T) {
	t.Parallel()
	f := setup(t)
	t.Run("full name", func(t *testing.T) { updateFullName(t, f) })
	t.Run("password", func(t *testing.T) { updatePassword(t, f) })
	t.Run("deactivate", func(t *testing.T) { updateDeactivate(t, f) })
	t.Run("empty patch", func(t *testing.T) { updateEmptyPatch(t, f) })
	t.Run("bad requests", func(t *testing.T) { updateBadRequests(t, f) })
	t.Run("demote", func(t *testing.T) { updateDemote(t, f) })
}

func updateFullName(t *testing.T, f *fixture) {
	fiona := f.mustCreate(t, "fiona", "Fiona", false)
	p := f.Login(t, "fiona", password)
	f.Clock.Advance(time.Minute)
	got := user(f.as(t, "PATCH", userPath(fiona.ID), map[string]any{"full_name": "Fiona Apple"}).Want(200))
	want := fiona
	want.FullName, want.UpdatedAt, want.LastLoginAt = "Fiona Apple", f.Clock.Now().UTC(), got.LastLoginAt
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("patched user (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(got, f.getUser(t, fiona.ID)); diff != "" {
		t.Errorf("GET after PATCH (-patched +read):\n%s", diff)
	}
	// A new name ends no session.
	f.do(t, "GET", base+"/me", nil, testenv.Bearer(p.AccessToken)...).Want(200)
	// An empty name is allowed; so is clearing it.
	if u := user(f.as(t, "PATCH", userPath(fiona.ID), map[string]any{"full_name": ""}).Want(200)); u.FullName != "" {
		t.Errorf("full_name = %q, want empty", u.FullName)
	}
}

func updatePassword(t *testing.T, f *fixture) {
	paul := f.mustCreate(t, "paul", "Paul", false)
	bob := f.mustCreate(t, "bob", "Bob", false)
	a1, a2 := f.Login(t, "paul", password), f.Login(t, "paul", password)
	b1 := f.Login(t, "bob", password)
	const next = "a brand new password"
	f.as(t, "PATCH", userPath(paul.ID), map[string]any{"password": next}).Want(200)

	// Every session of paul ends at once, access and refresh tokens alike.
	for _, p := range []auth.TokenPair{a1, a2} {
		r := f.do(t, "GET", base+"/me/sessions", nil, testenv.Bearer(p.AccessToken)...).Want(401, "invalid_token")
		if got, want := r.Header().Get("WWW-Authenticate"), `Bearer error="invalid_token"`; got != want {
			t.Errorf("WWW-Authenticate = %q, want %q", got, want)
		}
		f.do(t, "POST", base+"/refresh", map[string]string{"refresh_token": p.RefreshToken}).Want(401)
	}
	// Other users and the admin are untouched.
	f.do(t, "GET", base+"/me", nil, testenv.Bearer(b1.AccessToken)...).Want(200)
	f.as(t, "GET", userPath(bob.ID), nil).Want(200)
	// The new password works and the old one does not.
	if st, code := f.loginStatus(t, "paul", password); st != 401 || code != auth.CodeInvalidCredentials {
		t.Errorf("login with the old password = %d %s, want 401 invalid_credentials", st, code)
	}
	p := f.Login(t, "paul", next)
	f.do(t, "GET", base+"/me", nil, testenv.Bearer(p.AccessToken)...).Want(200)

	ev := f.eventsOf(t, auth.EventUserUpdated, paul.ID)
	if len(ev) != 1 || !slices.Equal(anyStrings(ev[0].Details["changed"]), []string{"password"}) || ev[0].Details["sessions_revoked"] != float64(2) {
		t.Errorf("user.updated events = %+v, want one with changed [password] and 2 sessions revoked", ev)
	}
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := []string{}
	for _, s := range l {
		str, _ := s.(string)
		out = append(out, str)
	}
	return out
}

func updateDeactivate(t *testing.T, f *fixture) {
	dora := f.mustCreate(t, "dora", "Dora", false)
	a1, a2 := f.Login(t, "dora", password), f.Login(t, "dora", password)
	got := user(f.as(t, "PATCH", userPath(dora.ID), map[string]any{"is_active": false}).Want(200))
	if got.IsActive {
		t.Fatalf("is_active = true after deactivation")
	}
	for _, p := range []auth.TokenPair{a1, a2} {
		f.do(t, "GET", base+"/me/sessions", nil, testenv.Bearer(p.AccessToken)...).Want(401, "invalid_token")
		f.do(t, "POST", base+"/refresh", map[string]string{"refresh_token": p.RefreshToken}).Want(401)
	}
	// A deactivated account gets the answer every failed login gets.
	if st, code := f.loginStatus(t, "dora", password); st != 401 || code != auth.CodeInvalidCredentials {
		t.Errorf("login while deactivated = %d %s, want 401 invalid_credentials", st, code)
	}
	// Deactivating again changes nothing and is fine.
	f.as(t, "PATCH", userPath(dora.ID), map[string]any{"is_active": false}).Want(200)
	// Reactivated, the user may log in again (the old sessions stay dead).
	if u := user(f.as(t, "PATCH", userPath(dora.ID), map[string]any{"is_active": true}).Want(200)); !u.IsActive {
		t.Fatalf("is_active = false after reactivation")
	}
	p := f.Login(t, "dora", password)
	f.do(t, "GET", base+"/me", nil, testenv.Bearer(p.AccessToken)...).Want(200)
	f.do(t, "GET", base+"/me/sessions", nil, testenv.Bearer(a1.AccessToken)...).Want(401)
}

// updateDemote: admin rights are read from the record, so a
// demoted admin's next admin request is refused although the token still
// says admin (docs/security.md 23); the demotion ends no session.
func updateDemote(t *testing.T, f *fixture) {
	second := f.mustCreate(t, "second", "Second Admin", true)
	p := f.Login(t, "second", password)
	bearer := testenv.Bearer(p.AccessToken)
	f.do(t, "GET", base+"/users", nil, bearer...).Want(200)

	got := user(f.as(t, "PATCH", userPath(second.ID), map[string]any{"is_admin": false}).Want(200))
	if got.IsAdmin {
		t.Fatalf("is_admin = true after demotion")
	}
	if !claims(t, p.AccessToken).Admin {
		t.Fatalf("test premise: the token should still say admin")
	}
	for _, r := range []struct{ method, path string }{
		{"GET", base + "/users"},
		{"GET", userPath(f.admin.ID)},
		{"PATCH", userPath(second.ID)},
		{"DELETE", userPath(f.admin.ID)},
	} {
		f.do(t, r.method, r.path, map[string]any{"is_admin": true}, bearer...).Want(403, "forbidden")
	}
	f.do(t, "GET", base+"/me", nil, bearer...).Want(200) // still logged in
	if u := f.getUser(t, second.ID); u.IsAdmin {
		t.Errorf("the demoted admin promoted themselves back")
	}
	// Promoted again, the same token works at once.
	f.as(t, "PATCH", userPath(second.ID), map[string]any{"is_admin": true}).Want(200)
	f.do(t, "GET", base+"/users", nil, bearer...).Want(200)
}

// TestLastAdmin: the last active admin cannot be demoted, deactivated or
// deleted (docs/security.md 24); the refused change changes nothing and logs
// no one out.
func TestLastAdmin(t *testing.T) {
	t.Parallel()
	f := setup(t)
	other := f.Login(t, "root", adminPassword)
	before := f.getUser(t, f.admin.ID)
	f.Clock.Advance(time.Minute)
	for _, tc := range []struct {
		name, method string
		body         any
	}{
		{"demote", "PATCH", map[string]any{"is_admin": false}},
		{"deactivate", "PATCH", map[string]any{"is_active": false}},
		{"both", "PATCH", map[string]any{"is_admin": false, "is_active": false}},
		{"deactivate with a new name and password", "PATCH", map[string]any{"is_active": false, "full_name": "Gone", "password": "a new password!"}},
		{"demote with active true", "PATCH", map[string]any{"is_admin": false, "is_active": true}},
		{"delete", "DELETE", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.as(t, tc.method, userPath(f.admin.ID), tc.body).Want(409, "conflict")
			if diff := cmp.Diff(before, f.getUser(t, f.admin.ID)); diff != "" {
				t.Errorf("the refused change changed the admin (-before +after):\n%s", diff)
			}
			f.do(t, "GET", base+"/me", nil, testenv.Bearer(other.AccessToken)...).Want(200)
		})
	}
	// The admin's sessions, the old password and the refresh token all survive.
	f.Login(t, "root", adminPassword)
	f.do(t, "POST", base+"/refresh", map[string]string{"refresh_token": other.RefreshToken}).Want(200)
	// An inactive admin does not count: with a second admin deactivated,
	// root is still the last active one.
	second := f.mustCreate(t, "second", "", true)
	f.as(t, "PATCH", userPath(second.ID), map[string]any{"is_active": false}).Want(200)
	f.as(t, "PATCH", userPath(f.admin.ID), map[string]any{"is_admin": false}).Want(409, "conflict")
	f.as(t, "DELETE", userPath(f.admin.ID), nil).Want(409, "conflict")
	if n := len(f.Events(t, auth.EventUserUpdated)); n != 1 { // the deactivation of second
		t.Errorf("%d user.updated events, want 1: refused changes are not recorded as done", n)
	}
}

// TestTwoAdmins: with two active admins either may be demoted, by the
// other or by themselves, and then the other is the last.
func TestTwoAdmins(t *testing.T) {
	t.Parallel()
	f := setup(t)
	second := f.mustCreate(t, "second", "", true)
	p := f.Login(t, "second", password)
	bearer := testenv.Bearer(p.AccessToken)
	// second demotes root.
	f.do(t, "PATCH", userPath(f.admin.ID), map[string]any{"is_admin": false}, bearer...).Want(200)
	f.as(t, "GET", base+"/users", nil).Want(403, "forbidden")
	// Now second is the last and cannot step down.
	f.do(t, "PATCH", userPath(second.ID), map[string]any{"is_admin": false}, bearer...).Want(409, "conflict")
	f.do(t, "PATCH", userPath(second.ID), map[string]any{"is_active": false}, bearer...).Want(409, "conflict")
	// Promote root again; then second may demote themselves.
	f.do(t, "PATCH", userPath(f.admin.ID), map[string]any{"is_admin": true}, bearer...).Want(200)
	f.do(t, "PATCH", userPath(second.ID), map[string]any{"is_admin": false}, bearer...).Want(200)
	f.do(t, "GET", base+"/users", nil, bearer...).Want(403, "forbidden")
	f.as(t, "GET", base+"/users", nil).Want(200)
	// Deactivating an admin while another exists ends their sessions.
	f.as(t, "PATCH", userPath(second.ID), map[string]any{"is_admin": true}).Want(200)
	f.as(t, "PATCH", userPath(second.ID), map[string]any{"is_active": false}).Want(200)
	f.do(t, "GET", base+"/me/sessions", nil, bearer...).Want(401, "invalid_token")
}

func updateEmptyPatch(t *testing.T, f *fixture) {
	emma := f.mustCreate(t, "emma", "Emma", false)
	p := f.Login(t, "emma", password)
	before := f.getUser(t, emma.ID)
	f.Clock.Advance(time.Minute)
	got := user(f.as(t, "PATCH", userPath(emma.ID), `{}`).Want(200))
	if diff := cmp.Diff(before, got); diff != "" {
		t.Errorf("PATCH {} changed the user (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(before, f.getUser(t, emma.ID)); diff != "" {
		t.Errorf("an empty patch changed the stored user (-before +after):\n%s", diff)
	}
	f.do(t, "GET", base+"/me", nil, testenv.Bearer(p.AccessToken)...).Want(200)
	if n := len(f.eventsOf(t, auth.EventUserUpdated, emma.ID)); n != 0 {
		t.Errorf("%d user.updated events for empty patches, want 0", n)
	}
}

func updateBadRequests(t *testing.T, f *fixture) {
	bert := f.mustCreate(t, "bert", "Bert", false)
	p := f.Login(t, "bert", password)
	before := f.getUser(t, bert.ID)
	for _, tc := range []struct {
		name   string
		path   string
		body   string
		ctype  string
		status int
		code   string
		field  string
	}{
		{"unknown field username", "", `{"username":"mallory"}`, "", 400, "invalid_request", ""},
		{"unknown field password_hash", "", `{"password_hash":"$2a$04$abc"}`, "", 400, "invalid_request", ""},
		{"unknown field id", "", `{"id":1}`, "", 400, "invalid_request", ""},
		{"known and unknown", "", `{"full_name":"X","source":"gpustack"}`, "", 400, "invalid_request", ""},
		// encoding/json alone matches keys without regard to case and lets
		// the last of two win: both would make bert an admin.
		{"IS_ADMIN in capitals", "", `{"IS_ADMIN":true}`, "", 400, "invalid_request", ""},
		{"is_admin twice", "", `{"is_admin":false,"is_admin":true}`, "", 400, "invalid_request", ""},
		{"malformed", "", `{"full_name":`, "", 400, "invalid_request", ""},
		{"not an object", "", `"full_name"`, "", 400, "invalid_request", ""},
		{"empty body", "", ``, "", 400, "invalid_request", ""},
		{"is_admin a string", "", `{"is_admin":"false"}`, "", 422, "validation_failed", "is_admin"},
		{"is_active a number", "", `{"is_active":0}`, "", 422, "validation_failed", "is_active"},
		{"full_name a number", "", `{"full_name":5}`, "", 422, "validation_failed", "full_name"},
		{"password an array", "", `{"password":["a"]}`, "", 422, "validation_failed", "password"},
		{"short password", "", `{"password":"short"}`, "", 422, "validation_failed", "password"},
		{"73-byte password", "", `{"password":"` + strings.Repeat("p", 73) + `"}`, "", 422, "validation_failed", "password"},
		{"long full name", "", `{"full_name":"` + strings.Repeat("x", 129) + `"}`, "", 422, "validation_failed", "full_name"},
		{"control char in full name", "", `{"full_name":"a\u001bb"}`, "", 422, "validation_failed", "full_name"},
		{"too large", "", `{"full_name":"` + strings.Repeat("x", 70000) + `"}`, "", 413, "payload_too_large", ""},
		{"text/plain", "", `{"full_name":"X"}`, "text/plain", 415, "unsupported_media_type", ""},
		{"unknown id", userPath(999999), `{"full_name":"X"}`, "", 404, "not_found", ""},
		{"id abc", base + "/users/abc", `{"full_name":"X"}`, "", 404, "not_found", ""},
		{"id 0", base + "/users/0", `{"full_name":"X"}`, "", 404, "not_found", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = userPath(bert.ID)
			}
			var headers []string
			if tc.ctype != "" {
				headers = []string{"Content-Type", tc.ctype}
			}
			r := f.as(t, "PATCH", path, tc.body, headers...).Want(tc.status, tc.code)
			if tc.field != "" {
				if got := fieldsOf(t, r); !slices.Equal(got, []string{tc.field}) {
					t.Errorf("errors fields = %v, want [%s]", got, tc.field)
				}
			}
		})
	}
	// Nothing was changed and no one was logged out.
	if diff := cmp.Diff(before, f.getUser(t, bert.ID)); diff != "" {
		t.Errorf("bad requests changed the user (-before +after):\n%s", diff)
	}
	f.do(t, "GET", base+"/me", nil, testenv.Bearer(p.AccessToken)...).Want(200)
	f.Login(t, "bert", password)
}

// TestLastAdminConcurrent: two admins removing each other at the same
// moment cannot both succeed; one active admin always remains
// (docs/security.md 24 under concurrency: the store's check, not the early one,
// is what holds).
func TestLastAdminConcurrent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, method string
		body         any
	}{
		{"deactivate", "PATCH", map[string]any{"is_active": false}},
		{"demote", "PATCH", map[string]any{"is_admin": false}},
		{"delete", "DELETE", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			peer := f.mustCreate(t, "peer", "", true)
			rootPair, peerPair := f.adminPair, f.Login(t, "peer", password)
			codes := make([]int, 2)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, req := range []struct {
				target int64
				token  string
			}{{peer.ID, rootPair.AccessToken}, {f.admin.ID, peerPair.AccessToken}} {
				c := testenv.NewHTTP(t, f.Handler)
				wg.Go(func() {
					<-start
					codes[i] = c.Do(tc.method, userPath(req.target), tc.body, testenv.Bearer(req.token)...).Code
				})
			}
			close(start)
			wg.Wait()
			ok := 0
			for _, c := range codes {
				switch c {
				case 200, 204:
					ok++
				case 401, 403, 409: // lost the race: logged out, demoted, or the last admin by then
				default:
					t.Errorf("status %d", c)
				}
			}
			if ok != 1 {
				t.Errorf("statuses %v, want exactly one success", codes)
			}
			if n, err := f.SQL.CountActiveAdmins(t.Context()); err != nil || n != 1 {
				t.Errorf("%d active admins, %v; want 1", n, err)
			}
		})
	}
}

// TestNullMeansLeftOut: the OpenAPI document allows null for the optional
// fields and says it is the same as leaving them out; hold the code to it.
func TestNullMeansLeftOut(t *testing.T) {
	f := setup(t)
	u := f.mustCreate(t, "nully", "Null Tester", false)
	var got auth.User
	f.as(t, "PATCH", base+"/users/"+strconv.FormatInt(u.ID, 10), `{"full_name":null,"is_admin":null,"is_active":null,"password":null}`).Want(200).JSON(&got)
	if got.FullName != "Null Tester" || got.IsAdmin || !got.IsActive {
		t.Errorf("after a patch of nulls: %+v, want unchanged", got)
	}
	f.as(t, "POST", base+"/users", `{"username":"nully2","password":"`+password+`","full_name":null,"is_admin":null}`).Want(201).JSON(&got)
	if got.FullName != "" || got.IsAdmin {
		t.Errorf("created with nulls: %+v, want defaults", got)
	}
}
