// Command bootstrap is the sessions group's AWS Lambda function: wiring only.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"authfn/functions/sessions"
	"authfn/pkg/app"
	"authfn/pkg/lambdahttp"
)

func main() {
	if err := run(context.Background(), os.Getenv); err != nil {
		slog.Error("cold start", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	a, err := app.Open(ctx, getenv) // config and clients, once per cold start; they connect lazily
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	sessions.Register(mux, sessions.Deps{Logger: a.Logger, Auth: a.Auth})
	lambdahttp.Start(a.Logger, mux, a.Web, nil) // never returns
	return nil
}
