// Command bootstrap is the migrate Lambda function: wiring only. It opens
// PostgreSQL alone, so it runs with DATABASE_URL (and the admin settings)
// and nothing else.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"authfn/functions/migrate"
	"authfn/pkg/app"
)

func main() {
	if err := run(context.Background(), os.Getenv); err != nil {
		slog.Error("cold start", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	setup, _, err := app.OpenSetup(ctx, getenv, os.Stdout)
	if err != nil {
		return err
	}
	lambda.Start(migrate.Handler(setup)) // never returns
	return nil
}
