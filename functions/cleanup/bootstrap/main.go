// Command bootstrap is the cleanup group's AWS Lambda function: wiring only.
package main

import (
	"context"

	"authfn/functions/cleanup"
	"authfn/pkg/app"
	"authfn/pkg/lambdahttp"
	"authfn/pkg/web"
)

func main() {
	app.ServeLambda(func(r web.Router, a *app.App) {
		cleanup.Register(r, cleanup.Deps{Logger: a.Logger, Auth: a.Auth})
	}, func(a *app.App) lambdahttp.Scheduled {
		return func(ctx context.Context) (any, error) { return a.Auth.Cleanup(ctx) }
	})
}
