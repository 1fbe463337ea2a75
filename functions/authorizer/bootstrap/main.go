// Command bootstrap is the Lambda authorizer (AuthorizerFunction in
// template.yaml): wiring only. It opens Redis and nothing else; it needs
// no DATABASE_URL, because the authorizer never calls PostgreSQL
// (docs/security.md 33).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"authfn/functions/authorizer"
	"authfn/pkg/app"
)

func main() {
	v, err := app.OpenVerifier(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("cold start", "err", err)
		os.Exit(1)
	}
	lambda.Start(authorizer.Handler(v.Logger, v.Auth.Sessions))
}
