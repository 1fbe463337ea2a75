package login_test

import (
	"context"
	"testing"

	"authfn/pkg/app"
	"authfn/pkg/auth"
	"authfn/pkg/postgres"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

// changeAfterLookup is the real PostgreSQL store with one twist: right
// after a login has read the user, an admin's change runs to the end. It
// reproduces, deterministically, a change that lands while the login
// hashes the password.
type changeAfterLookup struct {
	*postgres.Store
	change func()
}

func (c *changeAfterLookup) UserByUsername(ctx context.Context, name string) (auth.User, error) {
	u, err := c.Store.UserByUsername(ctx, name)
	if c.change != nil {
		c.change()
		c.change = nil
	}
	return u, err
}

// TestLoginRacingAChange: a login that read the user before a
// deactivation or a password reset, and starts its session after that
// change's revocations, must not leave a live session (docs/security.md 21).
func TestLoginRacingAChange(t *testing.T) {
	for name, change := range map[string]func(*auth.Admin, auth.Session, int64) error{
		"deactivation": func(s *auth.Admin, actor auth.Session, id int64) error {
			off := false
			_, err := s.UpdateUser(context.Background(), actor, id, auth.UserChange{IsActive: &off})
			return err
		},
		"password reset": func(s *auth.Admin, actor auth.Session, id int64) error {
			pw := "reset by an admin"
			_, err := s.UpdateUser(context.Background(), actor, id, auth.UserChange{Password: &pw})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			env := testenv.New(t)
			admin := env.CreateUser(t, "admin", password, true)
			alice := env.CreateUser(t, "alice", password, false)
			racing := &changeAfterLookup{Store: env.SQL}
			racing.change = func() {
				if err := change(env.Auth.Admin, auth.Session{UserID: admin.ID, Username: admin.Username}, alice.ID); err != nil {
					t.Errorf("the admin's change: %v", err)
				}
			}
			f := serve(t, env.With(t, app.Backends{SQL: racing, Redis: env.Redis}), web.Options{})
			f.http.Do("POST", "/api/auth/v2/login", map[string]string{"username": "alice", "password": password}).Want(401, "invalid_credentials")
			list, err := env.Sessions.UserSessions(t.Context(), alice.ID, env.Clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 0 {
				t.Errorf("%d live sessions after the racing login, want none", len(list))
			}
		})
	}
}
