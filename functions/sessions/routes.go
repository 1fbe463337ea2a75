// Package sessions is the admin endpoint group for sessions: every live
// session with totals, one user's sessions, and ending them.
package sessions

import (
	"context"
	"log/slog"
	"net/http"

	"authfn/pkg/auth"
	"authfn/pkg/web"
)

// Admin is what the sessions group needs of the core: auth.Admin, whose
// every operation checks the actor's rights itself.
type Admin interface {
	web.Authorizer
	ListSessions(ctx context.Context, actor auth.Session, cursor string, limit int) (auth.SessionList, error)
	SessionsOfUser(ctx context.Context, actor auth.Session, userID int64) ([]auth.Session, error)
	RevokeSessionsOfUser(ctx context.Context, actor auth.Session, userID int64) (int, error)
}

// Deps are the dependencies of the sessions group.
type Deps struct {
	Logger *slog.Logger
	Auth   web.Authenticator
	Admin  Admin
}

// Register adds the sessions group's routes to mux. This is the group's whole API surface.
func Register(mux web.Router, d Deps) {
	admin := func(h http.Handler) http.Handler { return web.RequireAdmin(d.Logger, d.Auth, d.Admin, h) }
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
		list, err := d.Admin.ListSessions(r.Context(), caller, r.URL.Query().Get("cursor"), limit)
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
		list, err := d.Admin.SessionsOfUser(r.Context(), caller, id)
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
		n, err := d.Admin.RevokeSessionsOfUser(r.Context(), actor, id)
		if err != nil {
			return err
		}
		web.Encode(w, r, d.Logger, http.StatusOK, response{Revoked: n})
		return nil
	})
}
