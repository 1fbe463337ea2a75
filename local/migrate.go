package main

import (
	"context"
	"errors"
	"io"

	"authfn/pkg/app"
	"authfn/pkg/auth"
)

// migrate applies migrations to DATABASE_URL and creates the first admin:
// what `make migrate` runs against any database, a deployed one included.
func migrate(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	getenv, err := withLocalSecret(getenv, localDir(getenv))
	if err != nil {
		return err
	}
	cfg, err := app.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is required: migrate applies migrations to a PostgreSQL database")
	}
	logger := app.NewLogger(stdout, cfg.LogLevel)
	pg, err := openPostgres(ctx, cfg)
	if err != nil {
		return err
	}
	a, err := app.New(cfg, logger, auth.Stores{Users: pg, Preferences: pg, Audit: pg}, pg.Close)
	if err != nil {
		pg.Close()
		return err
	}
	defer a.Close()
	logger.InfoContext(ctx, "migrations applied")
	return ensureAdmin(ctx, a)
}
