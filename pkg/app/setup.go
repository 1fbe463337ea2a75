package app

import (
	"context"
	"fmt"
	"time"

	"authfn/pkg/postgres"
)

// SetupResult says what Setup did.
type SetupResult struct {
	MigrationsApplied []string `json:"migrations_applied"`
	AdminCreated      bool     `json:"admin_created"`
}

// Setup brings the stores to what this build needs: it applies pending
// PostgreSQL migrations (SQLite migrates when it opens) and creates the
// first admin when there is none. A generated admin password is written
// to the log this once, as docs/api.md asks: it is the only way to learn it,
// and it is never stored in clear. The local runner calls Setup at start,
// `make migrate` and the deploy's migrate function call it alone.
func (a *App) Setup(ctx context.Context) (SetupResult, error) {
	var r SetupResult
	if a.Postgres != nil {
		mctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		applied, err := postgres.Migrate(mctx, a.Postgres.Pool())
		if err != nil {
			return r, fmt.Errorf("migrate: %w", err)
		}
		r.MigrationsApplied = applied
		if len(applied) > 0 {
			a.Logger.InfoContext(ctx, "migrations applied", "migrations", applied)
		}
	}
	fa, err := a.Auth.EnsureFirstAdmin(ctx, a.Config.AdminUsername, a.Config.AdminPassword)
	if err != nil {
		return r, fmt.Errorf("create first admin: %w", err)
	}
	r.AdminCreated = fa.Created
	switch {
	case fa.Created && fa.Password != "":
		a.Logger.WarnContext(ctx, "first admin created with a generated password; it is shown only this once, change it",
			"username", fa.User.Username, "password", fa.Password)
	case fa.Created:
		a.Logger.InfoContext(ctx, "first admin created from ADMIN_PASSWORD", "username", fa.User.Username)
	}
	return r, nil
}
