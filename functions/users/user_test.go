package users_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
	"authfn/pkg/testenv"
)

func userGet(t *testing.T, f *fixture) {
	gina := f.mustCreate(t, "gina", "Gina Liddell", false)
	if diff := cmp.Diff(gina, f.getUser(t, gina.ID)); diff != "" {
		t.Errorf("GET user (-created +read):\n%s", diff)
	}
	if diff := cmp.Diff(f.adminPair.User, f.getUser(t, f.admin.ID)); diff != "" {
		t.Errorf("GET own record (-created +read):\n%s", diff)
	}
	for _, id := range []string{"999999", "abc", "0", "-1", "1.5", "1e3", "99999999999999999999", "%20", "0x2"} {
		t.Run(id, func(t *testing.T) {
			f.as(t, "GET", base+"/users/"+id, nil).Want(404, "not_found")
		})
	}
}

func TestUserGetAndDelete(t *testing.T) {
	t.Parallel()
	f := setup(t)
	t.Run("get", func(t *testing.T) { userGet(t, f) })
	t.Run("delete", func(t *testing.T) { userDelete(t, f) })
}

func userDelete(t *testing.T, f *fixture) {
	ctx := context.Background()
	alice := f.mustCreate(t, "alice", "Alice", false)
	bob := f.mustCreate(t, "bob", "Bob", false)
	a1, a2 := f.Login(t, "alice", password), f.Login(t, "alice", password)
	b1 := f.Login(t, "bob", password)
	for _, u := range []auth.User{alice, bob} {
		if _, err := f.SQL.UpdatePreferences(ctx, u.ID, auth.Preferences{"theme": json.RawMessage(`"dark"`)}, 64<<10); err != nil {
			t.Fatal(err)
		}
	}

	r := f.as(t, "DELETE", userPath(alice.ID), nil).Want(204)
	if r.Body.Len() != 0 {
		t.Errorf("204 with a body: %q", r.Body)
	}
	// Every session and token of the deleted user ends at once. (Access
	// tokens are tried on a route that reads only the session, and before
	// any refresh, which would clean up after a user it cannot find.)
	if live, err := f.Sessions.UserSessions(ctx, alice.ID, f.Clock.Now()); err != nil || len(live) != 0 {
		t.Errorf("sessions of the deleted user = %d, %v; want none", len(live), err)
	}
	for _, p := range []auth.TokenPair{a1, a2} {
		f.do(t, "GET", base+"/me/sessions", nil, testenv.Bearer(p.AccessToken)...).Want(401, "invalid_token")
	}
	for _, p := range []auth.TokenPair{a1, a2} {
		f.do(t, "POST", base+"/refresh", map[string]string{"refresh_token": p.RefreshToken}).Want(401)
	}
	// Their preferences went with them; bob's stayed.
	if p, err := f.SQL.Preferences(ctx, alice.ID); err != nil || len(p) != 0 {
		t.Errorf("preferences of the deleted user = %v, %v; want none", p, err)
	}
	if p, err := f.SQL.Preferences(ctx, bob.ID); err != nil || string(p["theme"]) != `"dark"` {
		t.Errorf("preferences of bob = %v, %v; want theme dark", p, err)
	}
	f.do(t, "GET", base+"/me", nil, testenv.Bearer(b1.AccessToken)...).Want(200)

	// The user is gone for every route.
	f.as(t, "DELETE", userPath(alice.ID), nil).Want(404, "not_found")
	f.as(t, "GET", userPath(alice.ID), nil).Want(404, "not_found")
	f.as(t, "PATCH", userPath(alice.ID), map[string]any{"full_name": "Back"}).Want(404, "not_found")
	if st, code := f.loginStatus(t, "alice", password); st != 401 || code != auth.CodeInvalidCredentials {
		t.Errorf("login as the deleted user = %d %s, want 401 invalid_credentials", st, code)
	}
	for _, id := range []string{"abc", "0", "-1", "999999"} {
		f.as(t, "DELETE", base+"/users/"+id, nil).Want(404, "not_found")
	}
	// The name is free again, for a new user whom the old tokens do not reach.
	again := user(f.as(t, "POST", base+"/users", map[string]any{"username": "alice", "password": password}).Want(201))
	if again.ID == alice.ID {
		t.Errorf("a new user got the deleted user's id %d", again.ID)
	}
	f.do(t, "GET", base+"/me/sessions", nil, testenv.Bearer(a1.AccessToken)...).Want(401)
	if p, err := f.SQL.Preferences(ctx, again.ID); err != nil || len(p) != 0 {
		t.Errorf("preferences of the new alice = %v, %v; want none", p, err)
	}
}

// TestUserDeleteSelf: an admin may delete their own account while another
// admin exists; their token dies with it.
func TestUserDeleteSelf(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mustCreate(t, "second", "", true)
	f.as(t, "DELETE", userPath(f.admin.ID), nil).Want(204)
	f.as(t, "GET", base+"/users", nil).Want(401, "invalid_token")
	p := f.Login(t, "second", password)
	// second is now the last admin.
	f.do(t, "DELETE", userPath(p.User.ID), nil, testenv.Bearer(p.AccessToken)...).Want(409, "conflict")
}
