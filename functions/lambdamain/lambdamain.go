// Package lambdamain is the whole main of every Lambda function. It is the
// one package that links the Lambda runtime client (aws-lambda-go/lambda),
// and only the bootstraps import it: the local runner serves the same
// groups over net/http and so carries neither the client nor its RPC mode
// (net/rpc and encoding/gob), which made the runner's resident size about
// 3.5 MB larger.
package lambdamain

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"authfn/functions"
	"authfn/pkg/app"
)

// Serve opens the app of the named group's function from the process
// environment (once per cold start; the clients connect lazily, so no
// network round trip) and serves the group's app.LambdaHandler. A static
// group (the console's files) opens no store (app.OpenStatic). It never
// returns; a bad configuration ends the process with the reason in the log.
func Serve(function string) {
	g, ok := functions.Lookup(function)
	if !ok {
		panic("lambdamain: no group is served by " + function)
	}
	var a *app.App
	var err error
	if g.Static {
		a, err = app.OpenStatic(os.Getenv)
	} else {
		a, err = app.Open(context.Background(), os.Getenv)
	}
	if err != nil {
		slog.Error("cold start", "err", err)
		os.Exit(1)
	}
	lambda.Start(a.LambdaHandler(g.Register, g.Scheduled))
}
