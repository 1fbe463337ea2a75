// Package login is the login endpoint group: sign in and out, refresh
// tokens, and the caller's own account and sessions.
package login

import (
	"context"
	"log/slog"
	"net/http"

	"authfn/pkg/auth"
	"authfn/pkg/web"
)

// Sessions is what the login group needs of the core: auth.Sessions.
type Sessions interface {
	web.Authenticator
	Login(ctx context.Context, username, password string) (auth.TokenPair, error)
	LoginWithCode(ctx context.Context, username, password, code string) (auth.TokenPair, error)
	LoginMFA(ctx context.Context, mfaToken, code string) (auth.TokenPair, error)
	Refresh(ctx context.Context, token string) (auth.TokenPair, error)
	Logout(ctx context.Context, s auth.Session, all bool) (int, error)
	Me(ctx context.Context, s auth.Session) (auth.User, error)
	MySessions(ctx context.Context, s auth.Session) ([]auth.Session, error)
	EndOwnSession(ctx context.Context, s auth.Session, sessionID string) error
	ChangePassword(ctx context.Context, s auth.Session, current, next string) error
	JWKS() ([]byte, bool)
	SigningAlgorithms() []string
	Issuer() string
	RevokeToken(ctx context.Context, token string) error
	StartMFAEnrolment(ctx context.Context, s auth.Session, currentPassword string) (auth.MFAEnrolmentStart, error)
	ActivateMFA(ctx context.Context, s auth.Session, code string) ([]string, error)
	DisableMFA(ctx context.Context, s auth.Session, currentPassword, code string) error
}

// Deps are the dependencies of the login group.
type Deps struct {
	Logger   *slog.Logger
	Sessions Sessions
}

// Register adds the login group's routes to mux. This is the group's whole API surface.
func Register(mux web.Router, d Deps) {
	authed := func(h http.Handler) http.Handler { return web.RequireSession(d.Logger, d.Sessions, h) }
	mux.Handle("POST /api/auth/v2/login", handleLogin(d))
	mux.Handle("POST /api/auth/v2/refresh", handleRefresh(d))
	mux.Handle("POST /api/auth/v2/logout", authed(handleLogout(d)))
	mux.Handle("GET /api/auth/v2/me", authed(handleMeGet(d)))
	mux.Handle("GET /api/auth/v2/me/sessions", authed(handleMySessionList(d)))
	mux.Handle("DELETE /api/auth/v2/me/sessions/{session_id}", authed(handleMySessionEnd(d)))
	mux.Handle("POST /api/auth/v2/me/password", authed(handleMyPasswordChange(d)))
	mux.Handle("GET /api/auth/v2/verify", handleVerify(d))
	mux.Handle("GET /api/auth/v2/.well-known/jwks.json", handleJWKSGet(d))
	mux.Handle("GET /api/auth/v2/.well-known/openid-configuration", handleDiscoveryGet(d))
	mux.Handle("POST /api/auth/v2/token", handleToken(d))
	mux.Handle("POST /api/auth/v2/revoke", handleRevoke(d))
	mux.Handle("POST /api/auth/v2/login/mfa", handleLoginMFA(d))
	mux.Handle("POST /api/auth/v2/me/mfa/totp", authed(handleMFAEnrolmentStart(d)))
	mux.Handle("POST /api/auth/v2/me/mfa/totp/activate", authed(handleMFAActivate(d)))
	mux.Handle("DELETE /api/auth/v2/me/mfa/totp", authed(handleMFADisable(d)))
}
