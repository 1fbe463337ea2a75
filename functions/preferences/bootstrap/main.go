// Command bootstrap is the preferences group's AWS Lambda function: wiring only.
package main

import (
	"authfn/functions/preferences"
	"authfn/pkg/app"
	"authfn/pkg/web"
)

func main() {
	app.ServeLambda(func(r web.Router, a *app.App) {
		preferences.Register(r, preferences.Deps{Logger: a.Logger, Auth: a.Auth})
	}, nil)
}
