// Command bootstrap is the users group's AWS Lambda function: wiring only.
package main

import (
	"authfn/functions/users"
	"authfn/pkg/app"
	"authfn/pkg/web"
)

func main() {
	app.ServeLambda(func(r web.Router, a *app.App) {
		users.Register(r, users.Deps{Logger: a.Logger, Auth: a.Auth})
	}, nil)
}
