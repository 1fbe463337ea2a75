package app

import (
	"context"
	"encoding/json"
	"net/http"
	"os"

	"authfn/pkg/lambdahttp"
	"authfn/pkg/web"
)

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

// OpenStatic opens an App without stores or core (App.Auth is nil), for a
// group that calls no store (the console's files): its App has the
// config, logger, middleware options and metrics, so its function needs no
// database, Redis or signing key, and a store that is down cannot stop it
// from starting.
func OpenStatic(getenv func(string) string) (*App, error) {
	cfg, err := parseConfig(getenv, false)
	if err != nil {
		return nil, err
	}
	m := lambdaMetrics()
	return &App{Config: cfg, Logger: NewLogger(os.Stdout, cfg.LogLevel), Web: webOptions(cfg, m), Metrics: m}, nil
}
