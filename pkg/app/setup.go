package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/postgres"
)

// SetupResult says what Setup did.
type SetupResult struct {
	MigrationsApplied []string `json:"migrations_applied"`
	AdminCreated      bool     `json:"admin_created"`
}

// SetupStore is what Setup needs of the SQL store: users, the audit log
// and the MFA key check.
type SetupStore interface {
	auth.UserStore
	auth.AuditStore
	auth.MFAStore
}

// Migrate applies a SQL store's pending migrations and names them; nil
// for a store that migrates itself when it opens (SQLite).
type Migrate func(ctx context.Context) ([]string, error)

// PostgresMigrate is the Migrate of a PostgreSQL store.
func PostgresMigrate(pg *postgres.Store) Migrate {
	return func(ctx context.Context) ([]string, error) { return postgres.Migrate(ctx, pg.Pool()) }
}

// Setup brings the SQL store to what this build needs: it applies pending
// migrations and creates the first admin when there is none. A generated
// admin password is written to the log this once, as docs/api.md asks: it
// is the only way to learn it, and it is never stored in clear. The local
// runner calls Setup at start; `make migrate` and the deploy's migrate
// function call it alone (see OpenSetup). It needs no Redis and no token
// key.
func Setup(ctx context.Context, cfg Config, logger *slog.Logger, sql SetupStore, migrate Migrate) (SetupResult, error) {
	var r SetupResult
	if migrate != nil {
		mctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		applied, err := migrate(mctx)
		if err != nil {
			return r, fmt.Errorf("migrate: %w", err)
		}
		r.MigrationsApplied = applied
		if len(applied) > 0 {
			logger.InfoContext(ctx, "migrations applied", "migrations", applied)
		}
	}
	setup, err := auth.NewSetup(cfg.AuthConfig(), sql, sql, sql, auth.WithLogger(logger))
	if err != nil {
		return r, err
	}
	// Before anything else reads or seals a secret: a wrong MFA_KEY stops
	// the start (or the deploy) here, with a message that says so.
	if err := setup.CheckMFAKey(ctx); err != nil {
		return r, fmt.Errorf("MFA_KEY: %w", err)
	}
	fa, err := setup.EnsureFirstAdmin(ctx, cfg.AdminUsername, cfg.AdminPassword)
	if err != nil {
		return r, fmt.Errorf("create first admin: %w", err)
	}
	r.AdminCreated = fa.Created
	switch {
	case fa.Created && fa.Password != "":
		logger.WarnContext(ctx, "first admin created with a generated password; it is shown only this once, change it",
			"username", fa.User.Username, "password", fa.Password)
	case fa.Created:
		logger.InfoContext(ctx, "first admin created from ADMIN_PASSWORD", "username", fa.User.Username)
	}
	return r, nil
}

// OpenSetup reads the setup configuration through getenv (DATABASE_URL,
// required, and the admin, bcrypt, store-timeout and log settings: no
// REDIS_URL, no JWT_SECRET) and opens PostgreSQL only. It returns Setup
// bound to that store, and a function that closes it: what the migrate
// function and `make migrate` run. The log goes to stdout.
func OpenSetup(ctx context.Context, getenv func(string) string, stdout io.Writer) (func(context.Context) (SetupResult, error), func(), error) {
	cfg, err := SetupConfigFromEnv(getenv)
	if err != nil {
		return nil, nil, err
	}
	if cfg.DatabaseURL == "" {
		return nil, nil, errors.New("DATABASE_URL is required: migrate applies migrations to a PostgreSQL database")
	}
	logger := NewLogger(stdout, cfg.LogLevel)
	pg, err := OpenPostgres(ctx, cfg, Pooling{MaxConns: LambdaMaxConns}, nil)
	if err != nil {
		return nil, nil, err
	}
	run := func(ctx context.Context) (SetupResult, error) {
		return Setup(ctx, cfg, logger, pg, PostgresMigrate(pg))
	}
	return run, pg.Close, nil
}
