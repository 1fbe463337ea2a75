package app

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"authfn/pkg/lambdahttp"
	"authfn/pkg/web"
)

// ServeLambda is the whole main of an endpoint group's Lambda function:
// it opens the app from the process environment (once per cold start; the
// clients connect lazily, so no network round trip), registers the group's
// routes and serves them for every event shape lambdahttp knows. scheduled,
// if not nil, answers EventBridge scheduled events. It never returns; a
// bad configuration ends the process with the reason in the log.
func ServeLambda(register func(r web.Router, a *App), scheduled func(a *App) lambdahttp.Scheduled) {
	a, err := Open(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("cold start", "err", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	register(mux, a)
	var sched lambdahttp.Scheduled
	if scheduled != nil {
		sched = scheduled(a)
	}
	lambdahttp.Start(a.Logger, mux, a.Web, sched)
}
