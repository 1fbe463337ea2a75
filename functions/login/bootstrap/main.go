// Command bootstrap is the login group's AWS Lambda function: wiring only.
package main

import (
	"authfn/functions/login"
	"authfn/pkg/app"
	"authfn/pkg/web"
)

func main() {
	app.ServeLambda(func(r web.Router, a *app.App) {
		login.Register(r, login.Deps{Logger: a.Logger, Auth: a.Auth})
	}, nil)
}
