// Package sessions is the admin endpoint group for sessions: every live
// session with totals, one user's sessions, and ending them.
package sessions

import (
	"log/slog"
	"net/http"

	"authfn/pkg/auth"
	"authfn/pkg/web"
)

// Deps are the dependencies of the sessions group.
type Deps struct {
	Logger *slog.Logger
	Auth   *auth.Service
}

// Register adds the sessions group's routes to mux. This is the group's whole API surface.
func Register(mux web.Router, d Deps) {
	admin := func(h http.Handler) http.Handler { return web.RequireAdmin(d.Logger, d.Auth, h) }
	mux.Handle("GET /api/auth/v2/sessions", admin(handleSessionList(d)))
	mux.Handle("GET /api/auth/v2/sessions/{user_id}", admin(handleUserSessionList(d)))
	mux.Handle("DELETE /api/auth/v2/sessions/{user_id}", admin(handleUserSessionsEnd(d)))
}

type sessionsResponse struct {
	Sessions []auth.Session `json:"sessions"`
}

func handleSessionList(d Deps) http.Handler {
	type response struct {
		Sessions   []auth.Session    `json:"sessions"`
		NextCursor *string           `json:"next_cursor"`
		Stats      auth.SessionStats `json:"stats"`
	}
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		limit, err := web.Limit(r)
		if err != nil {
			return err
		}
		caller, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		list, err := d.Auth.ListSessions(r.Context(), caller, r.URL.Query().Get("cursor"), limit)
		if err != nil {
			return err
		}
		if list.Sessions == nil {
			list.Sessions = []auth.Session{}
		}
		web.Encode(w, r, d.Logger, http.StatusOK, response{Sessions: list.Sessions, NextCursor: web.Cursor(list.NextCursor), Stats: list.Stats})
		return nil
	})
}

func handleUserSessionList(d Deps) http.Handler {
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := web.PathID(r, "user_id")
		if err != nil {
			return err
		}
		caller, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		list, err := d.Auth.SessionsOfUser(r.Context(), caller, id)
		if err != nil {
			return err
		}
		if list == nil {
			list = []auth.Session{}
		}
		web.Encode(w, r, d.Logger, http.StatusOK, sessionsResponse{Sessions: list})
		return nil
	})
}

func handleUserSessionsEnd(d Deps) http.Handler {
	type response struct {
		Revoked int `json:"revoked"`
	}
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := web.PathID(r, "user_id")
		if err != nil {
			return err
		}
		actor, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		n, err := d.Auth.RevokeSessionsOfUser(r.Context(), actor, id)
		if err != nil {
			return err
		}
		web.Encode(w, r, d.Logger, http.StatusOK, response{Revoked: n})
		return nil
	})
}
