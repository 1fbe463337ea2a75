package login_test

import (
	"context"
	"testing"
	"time"

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

// cancelAfterRecordLogin is the real PostgreSQL store whose RecordLogin,
// once done, cancels the login's context: the client went away while the
// login finished.
type cancelAfterRecordLogin struct {
	*postgres.Store
	cancel context.CancelFunc
}

func (c *cancelAfterRecordLogin) RecordLogin(ctx context.Context, id int64, at time.Time, verified, rehash string) (auth.User, error) {
	u, err := c.Store.RecordLogin(ctx, id, at, verified, rehash)
	c.cancel()
	return u, err
}

// TestLoginAuditedWhenTheClientLeaves: a login that has started its
// session is in the audit log even if its client hung up before the
// answer (docs/security.md 26): the event records what happened, whoever
// is still listening.
func TestLoginAuditedWhenTheClientLeaves(t *testing.T) {
	env := testenv.New(t)
	alice := env.CreateUser(t, "alice", password, false)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	env = env.With(t, app.Backends{SQL: &cancelAfterRecordLogin{Store: env.SQL, cancel: cancel}, Redis: env.Redis})
	if _, err := env.Auth.Sessions.Login(ctx, "alice", password); err != nil {
		t.Fatalf("Login = %v", err)
	}
	var found bool
	for _, e := range env.Events(t, auth.EventLoginSucceeded) {
		found = found || (e.TargetID != nil && *e.TargetID == alice.ID)
	}
	if !found {
		t.Error("no login.succeeded event for a login whose client left")
	}
}
