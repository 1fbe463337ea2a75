package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"authfn/pkg/lambdahttp"
	"authfn/pkg/web"
)

// ServeLambda is the whole main of an endpoint group's Lambda function:
// it opens the app from the process environment (once per cold start; the
// clients connect lazily, so no network round trip) and serves the
// group's LambdaHandler. It never returns; a bad configuration ends the
// process with the reason in the log.
func ServeLambda(register func(r web.Router, a *App), scheduled func(a *App) lambdahttp.Scheduled) {
	serveLambda(Open(context.Background(), os.Getenv))(register, scheduled)
}

// serveLambda ends the process on a failed open, else returns what
// starts the Lambda loop on a's handler.
func serveLambda(a *App, err error) func(register func(r web.Router, a *App), scheduled func(a *App) lambdahttp.Scheduled) {
	if err != nil {
		slog.Error("cold start", "err", err)
		os.Exit(1)
	}
	return func(register func(r web.Router, a *App), scheduled func(a *App) lambdahttp.Scheduled) {
		lambda.Start(a.LambdaHandler(register, scheduled))
	}
}

// LambdaHandler registers the group's routes on a mux behind the shared
// middleware and returns the handler of every event shape lambdahttp
// knows (the client address and request id from the event's request
// context). scheduled, if not nil, answers EventBridge scheduled events.
// After each invocation, whatever its outcome, a's metrics are flushed:
// in Lambda, the EMF lines of that invocation.
func (a *App) LambdaHandler(register func(r web.Router, a *App), scheduled func(a *App) lambdahttp.Scheduled) func(ctx context.Context, raw json.RawMessage) (any, error) {
	mux := http.NewServeMux()
	register(mux, a)
	var sched lambdahttp.Scheduled
	if scheduled != nil {
		sched = scheduled(a)
	}
	o := a.Web
	o.Gateway = lambdahttp.Gateway
	return lambdahttp.AfterEach(lambdahttp.Handler(web.Stack(a.Logger, mux, o), sched), a.Metrics.Flush)
}

// ServeStaticLambda is ServeLambda for a group that calls no store (the
// console's files): its App has the config, logger, middleware options and
// metrics, and no core, so the function needs no database, Redis or
// signing key, and a store that is down cannot stop it from starting.
func ServeStaticLambda(register func(r web.Router, a *App)) {
	serveLambda(OpenStatic(os.Getenv))(register, nil)
}

// OpenStatic opens an App without stores or core (App.Auth is nil).
func OpenStatic(getenv func(string) string) (*App, error) {
	cfg, err := parseConfig(getenv, false)
	if err != nil {
		return nil, err
	}
	m := lambdaMetrics()
	return &App{Config: cfg, Logger: NewLogger(os.Stdout, cfg.LogLevel), Web: webOptions(cfg, m), Metrics: m}, nil
}
