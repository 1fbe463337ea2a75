package main

import (
	"context"
	"io"

	"authfn/pkg/app"
)

// migrate applies migrations to DATABASE_URL and creates the first admin:
// what `make migrate` runs against any database, a deployed one included.
// Like the deploy's migrate function it opens PostgreSQL only.
func migrate(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	setup, closeDB, err := app.OpenSetup(ctx, getenv, stdout)
	if err != nil {
		return err
	}
	defer closeDB()
	_, err = setup(ctx)
	return err
}
