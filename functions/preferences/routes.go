// Package preferences is the endpoint group for the caller's own
// key/value preferences.
package preferences

import (
	"context"
	"log/slog"
	"net/http"

	"authfn/pkg/auth"
	"authfn/pkg/web"
)

// Prefs is what the preferences group needs of the core: auth.Prefs.
type Prefs interface {
	Preferences(ctx context.Context, s auth.Session) (auth.Preferences, error)
	UpdatePreferences(ctx context.Context, s auth.Session, patch auth.Preferences) (auth.Preferences, error)
}

// Deps are the dependencies of the preferences group.
type Deps struct {
	Logger *slog.Logger
	Auth   web.Authenticator
	Prefs  Prefs
}

// Register adds the preferences group's routes to mux. This is the group's whole API surface.
func Register(mux web.Router, d Deps) {
	authed := func(h http.Handler) http.Handler { return web.RequireSession(d.Logger, d.Auth, h) }
	mux.Handle("GET /api/auth/v2/preferences", authed(handlePreferencesGet(d)))
	mux.Handle("POST /api/auth/v2/preferences", authed(handlePreferencesUpdate(d)))
}

type response struct {
	Preferences auth.Preferences `json:"preferences"`
}

func handlePreferencesGet(d Deps) http.Handler {
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		sess, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		p, err := d.Prefs.Preferences(r.Context(), sess)
		if err != nil {
			return err
		}
		web.Encode(w, r, d.Logger, http.StatusOK, response{Preferences: nonNil(p)})
		return nil
	})
}

func handlePreferencesUpdate(d Deps) http.Handler {
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		patch, err := web.Decode[auth.Preferences](w, r)
		if err != nil {
			return err
		}
		if patch == nil { // the body was JSON null
			return auth.Errorf(auth.CodeInvalidRequest, "The request body must be a JSON object.")
		}
		sess, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		p, err := d.Prefs.UpdatePreferences(r.Context(), sess, patch)
		if err != nil {
			return err
		}
		web.Encode(w, r, d.Logger, http.StatusOK, response{Preferences: nonNil(p)})
		return nil
	})
}

func nonNil(p auth.Preferences) auth.Preferences {
	if p == nil {
		return auth.Preferences{}
	}
	return p
}
