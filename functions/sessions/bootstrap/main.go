// Command bootstrap is the sessions group's AWS Lambda function: wiring only.
package main

import (
	"authfn/functions/sessions"
	"authfn/pkg/app"
	"authfn/pkg/web"
)

func main() {
	app.ServeLambda(func(r web.Router, a *app.App) {
		sessions.Register(r, sessions.Deps{Logger: a.Logger, Auth: a.Auth})
	}, nil)
}
