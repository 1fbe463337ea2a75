// Package login is the login endpoint group: sign in and out, refresh
// tokens, and the caller's own account and sessions.
package login

import (
	"log/slog"
	"net/http"

	"authfn/pkg/auth"
	"authfn/pkg/web"
)

// Deps are the dependencies of the login group.
type Deps struct {
	Logger *slog.Logger
	Auth   *auth.Service
}

// Register adds the login group's routes to mux. This is the group's whole API surface.
func Register(mux web.Router, d Deps) {
	authed := func(h http.Handler) http.Handler { return web.RequireSession(d.Logger, d.Auth, h) }
	mux.Handle("POST /api/auth/v2/login", handleLogin(d))
	mux.Handle("POST /api/auth/v2/refresh", handleRefresh(d))
	mux.Handle("POST /api/auth/v2/logout", authed(handleLogout(d)))
	mux.Handle("GET /api/auth/v2/me", authed(handleMeGet(d)))
	mux.Handle("GET /api/auth/v2/me/sessions", authed(handleMySessionList(d)))
	mux.Handle("DELETE /api/auth/v2/me/sessions/{session_id}", authed(handleMySessionEnd(d)))
	mux.Handle("POST /api/auth/v2/me/password", authed(handleMyPasswordChange(d)))
	mux.Handle("GET /api/auth/v2/.well-known/jwks.json", handleJWKSGet(d))
	mux.Handle("GET /api/auth/v2/.well-known/openid-configuration", handleDiscoveryGet(d))
	mux.Handle("POST /api/auth/v2/token", handleToken(d))
	mux.Handle("POST /api/auth/v2/revoke", handleRevoke(d))
}
