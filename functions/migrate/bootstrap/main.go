// Command bootstrap is the migrate Lambda function: wiring only.
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
	a, err := app.Open(ctx, getenv)
	if err != nil {
		return err
	}
	lambda.Start(migrate.Handler(a.Setup)) // never returns
	return nil
}
