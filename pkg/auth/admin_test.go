package auth_test

import (
	"context"
	"errors"
	"testing"

	"authfn/pkg/auth"
	"authfn/pkg/testenv"
)

// TestAdminOperationsCheckTheActor calls every operation of auth.Admin
// directly, with no HTTP middleware in front, as a route that forgot
// web.RequireAdmin would: a non-admin, a deactivated admin, a deleted user
// and no actor at all are refused, and nothing is changed. The same calls
// by an admin succeed, so the refusals are the rights check and nothing
// else (docs/security.md 23).
func TestAdminOperationsCheckTheActor(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	admin := env.CreateUser(t, "root", "admin password", true)
	other := env.CreateUser(t, "other-admin", "admin password", true)
	alice := env.CreateUser(t, "alice", "alice password", false)
	gone := env.CreateUser(t, "gone", "gone password", false)
	if _, err := env.Auth.Admin.UpdateUser(ctx, auth.Session{UserID: admin.ID}, other.ID, auth.UserChange{IsActive: new(false)}); err != nil {
		t.Fatal(err)
	}
	if err := env.Auth.Admin.DeleteUser(ctx, auth.Session{UserID: admin.ID}, gone.ID); err != nil {
		t.Fatal(err)
	}
	ops := map[string]func(actor auth.Session) error{
		"Authorize": func(a auth.Session) error { _, err := env.Auth.Admin.Authorize(ctx, a); return err },
		"ListUsers": func(a auth.Session) error { _, err := env.Auth.Admin.ListUsers(ctx, a, "", "", 50); return err },
		"User":      func(a auth.Session) error { _, err := env.Auth.Admin.User(ctx, a, alice.ID); return err },
		"CreateUser": func(a auth.Session) error {
			_, err := env.Auth.Admin.CreateUser(ctx, a, auth.NewUserInput{Username: "mallory-" + a.Username, Password: "a long password", IsAdmin: true})
			return err
		},
		"UpdateUser": func(a auth.Session) error {
			_, err := env.Auth.Admin.UpdateUser(ctx, a, alice.ID, auth.UserChange{IsAdmin: new(false)})
			return err
		},
		"DeleteUser":   func(a auth.Session) error { return env.Auth.Admin.DeleteUser(ctx, a, 999999) },
		"ListSessions": func(a auth.Session) error { _, err := env.Auth.Admin.ListSessions(ctx, a, "", 50); return err },
		"SessionsOfUser": func(a auth.Session) error {
			_, err := env.Auth.Admin.SessionsOfUser(ctx, a, alice.ID)
			return err
		},
		"RevokeSessionsOfUser": func(a auth.Session) error {
			_, err := env.Auth.Admin.RevokeSessionsOfUser(ctx, a, alice.ID)
			return err
		},
		"Cleanup": func(a auth.Session) error { _, err := env.Auth.Admin.Cleanup(ctx, a); return err },
		"AuditEvents": func(a auth.Session) error {
			_, err := env.Auth.Admin.AuditEvents(ctx, a, auth.AuditQuery{Limit: 50})
			return err
		},
		"Stats": func(a auth.Session) error { _, err := env.Auth.Admin.Stats(ctx, a, 24); return err },
	}
	refused := map[string]struct {
		actor auth.Session
		want  error
	}{
		"non-admin":            {auth.Session{UserID: alice.ID, Username: alice.Username}, auth.ErrForbidden},
		"deactivated admin":    {auth.Session{UserID: other.ID, Username: other.Username}, auth.ErrForbidden},
		"no actor":             {auth.Session{}, auth.ErrForbidden},
		"deleted user's token": {auth.Session{UserID: gone.ID, Username: gone.Username}, auth.ErrInvalidToken},
	}
	for name, op := range ops {
		for who, r := range refused {
			t.Run(name+"/"+who, func(t *testing.T) {
				if err := op(r.actor); !errors.Is(err, r.want) {
					t.Errorf("%s by a %s: %v, want %v", name, who, err, r.want)
				}
			})
		}
	}
	if u, err := env.SQL.User(ctx, alice.ID); err != nil || u.IsAdmin {
		t.Errorf("after the refused calls alice = %+v, %v: nothing may have changed", u, err)
	}
	if _, err := env.SQL.UserByUsername(ctx, "mallory-alice"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("a refused CreateUser created a user: %v", err)
	}
	for name, op := range ops {
		err := op(auth.Session{UserID: admin.ID, Username: admin.Username})
		if name == "DeleteUser" {
			if !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("DeleteUser of an unknown id by an admin: %v, want not found", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s by an admin: %v", name, err)
		}
	}
}
