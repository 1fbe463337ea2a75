// Package functions is the table of endpoint groups: for each, the
// Lambda function that serves it in template.yaml and how it registers
// its routes on an App. The bootstraps, the local runner and the template
// test all read this one table, so a group added here is served, deployed
// and checked the same way everywhere.
package functions

import (
	"context"
	"net/http"

	"authfn/functions/cleanup"
	"authfn/functions/console"
	"authfn/functions/health"
	"authfn/functions/login"
	"authfn/functions/preferences"
	"authfn/functions/sessions"
	"authfn/functions/users"
	"authfn/pkg/app"
	"authfn/pkg/lambdahttp"
	"authfn/pkg/web"
)

// Group is one endpoint group.
type Group struct {
	// Function is the logical id of the group's Lambda function in template.yaml.
	Function string
	// Register adds the group's routes, wired to a's core, to r.
	Register func(r web.Router, a *app.App)
	// Scheduled, if not nil, answers the scheduler's events in Lambda.
	Scheduled func(a *app.App) lambdahttp.Scheduled
	// Static groups call no store: their Lambda opens none (app.OpenStatic).
	Static bool
}

// Groups returns every endpoint group.
func Groups() []Group {
	return []Group{
		{Function: "LoginFunction", Register: func(r web.Router, a *app.App) {
			login.Register(r, login.Deps{Logger: a.Logger, Sessions: a.Auth.Sessions})
		}},
		{Function: "UsersFunction", Register: func(r web.Router, a *app.App) {
			users.Register(r, users.Deps{Logger: a.Logger, Auth: a.Auth.Sessions, Admin: a.Auth.Admin})
		}},
		{Function: "SessionsFunction", Register: func(r web.Router, a *app.App) {
			sessions.Register(r, sessions.Deps{Logger: a.Logger, Auth: a.Auth.Sessions, Admin: a.Auth.Admin})
		}},
		{Function: "PreferencesFunction", Register: func(r web.Router, a *app.App) {
			preferences.Register(r, preferences.Deps{Logger: a.Logger, Auth: a.Auth.Sessions, Prefs: a.Auth.Prefs})
		}},
		{Function: "HealthFunction", Register: func(r web.Router, a *app.App) {
			health.Register(r, health.Deps{Logger: a.Logger, Health: a.Auth.Maintenance, Version: app.Version()})
		}},
		{Function: "ConsoleFunction", Static: true, Register: func(r web.Router, a *app.App) {
			console.Register(r, console.Deps{Logger: a.Logger})
		}},
		{
			Function: "CleanupFunction",
			Register: func(r web.Router, a *app.App) {
				cleanup.Register(r, cleanup.Deps{Logger: a.Logger, Auth: a.Auth.Sessions, Admin: a.Auth.Admin})
			},
			Scheduled: func(a *app.App) lambdahttp.Scheduled {
				return func(ctx context.Context) (any, error) { return a.Auth.Maintenance.Cleanup(ctx) }
			},
		},
	}
}

// Lookup returns the group served by the named function, and false if
// there is none.
func Lookup(function string) (Group, bool) {
	for _, g := range Groups() {
		if g.Function == function {
			return g, true
		}
	}
	return Group{}, false
}

// RegisterAll registers every group on r, as the local runner serves them.
// Groups never share a pattern: ServeMux panics on a conflict, which the
// runner's tests would catch.
func RegisterAll(r web.Router, a *app.App) {
	for _, g := range Groups() {
		g.Register(r, a)
	}
}

// Routes lists the patterns of every group.
func Routes(a *app.App) []string {
	rr := &web.RouteRecorder{Mux: http.NewServeMux()}
	RegisterAll(rr, a)
	return rr.Patterns
}
