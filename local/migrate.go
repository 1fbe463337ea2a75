package main

import (
	"context"
	"errors"
	"io"
)

// migrate applies migrations to DATABASE_URL and creates the first admin:
// what `make migrate` runs against any database, a deployed one included.
// It opens Redis too (embedded when REDIS_URL is empty) only because the
// service is built whole; nothing is written there.
func migrate(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	if getenv("DATABASE_URL") == "" {
		return errors.New("DATABASE_URL is required: migrate applies migrations to a PostgreSQL database")
	}
	a, err := open(ctx, getenv, stdout)
	if err != nil {
		return err
	}
	defer a.Close()
	_, err = a.Setup(ctx)
	return err
}
