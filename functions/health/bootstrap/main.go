// Command bootstrap is the health group's AWS Lambda function: wiring only.
package main

import (
	"authfn/functions/health"
	"authfn/pkg/app"
	"authfn/pkg/web"
)

func main() {
	app.ServeLambda(func(r web.Router, a *app.App) {
		health.Register(r, health.Deps{Logger: a.Logger, Auth: a.Auth, Version: app.Version()})
	}, nil)
}
