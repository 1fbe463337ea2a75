// Command local is the local runner: every endpoint group on one net/http
// server. With no DATABASE_URL or REDIS_URL it runs on embedded stores (a
// SQLite file under .local/ and an in-process Redis server), so that
// `make run` needs no setup; otherwise it uses the servers named.
//
//	go run ./local          serve (ADDR, default :8080)
//	go run ./local migrate  apply migrations to DATABASE_URL and create the first admin
package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

// usage is printed for an unknown command.
const usage = `usage: local [serve | migrate]
  serve    run every endpoint group on ADDR (default :8080)
  migrate  apply migrations to DATABASE_URL and create the first admin, then exit`

// run is main without the process: tests call it with their own
// environment and output, and cancel ctx to stop it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stdout)
	case "migrate":
		return migrate(ctx, getenv, stdout)
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}
