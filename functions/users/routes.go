// Package users is the admin endpoint group for user accounts: list and
// search, create, read, change and delete, and reset a user's MFA; and
// what admins read about them: the audit log and the statistics of users,
// sessions and logins. (Those two are here rather than in a group of their
// own so that the console's overview costs no extra Lambda function and
// cold start.)
package users

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"

	"authfn/pkg/auth"
	"authfn/pkg/web"
)

// Admin is what the users group needs of the core: auth.Admin, whose
// every operation checks the actor's rights itself.
type Admin interface {
	web.Authorizer
	ListUsers(ctx context.Context, actor auth.Session, q, cursor string, limit int) (auth.UserPage, error)
	CreateUser(ctx context.Context, actor auth.Session, in auth.NewUserInput) (auth.User, error)
	User(ctx context.Context, actor auth.Session, id int64) (auth.User, error)
	UpdateUser(ctx context.Context, actor auth.Session, id int64, c auth.UserChange) (auth.User, error)
	DeleteUser(ctx context.Context, actor auth.Session, id int64) error
	ResetMFA(ctx context.Context, actor auth.Session, id int64) error
	AuditEvents(ctx context.Context, actor auth.Session, q auth.AuditQuery) (auth.EventPage, error)
	Stats(ctx context.Context, actor auth.Session, hours int) (auth.Stats, error)
}

// Deps are the dependencies of the users group.
type Deps struct {
	Logger *slog.Logger
	Auth   web.Authenticator
	Admin  Admin
}

// Register adds the users group's routes to mux. This is the group's whole API surface.
func Register(mux web.Router, d Deps) {
	admin := func(h http.Handler) http.Handler { return web.RequireAdmin(d.Logger, d.Auth, d.Admin, h) }
	mux.Handle("GET /api/auth/v2/users", admin(handleUserList(d)))
	mux.Handle("POST /api/auth/v2/users", admin(handleUserCreate(d)))
	mux.Handle("GET /api/auth/v2/users/{id}", admin(handleUserGet(d)))
	mux.Handle("PATCH /api/auth/v2/users/{id}", admin(handleUserUpdate(d)))
	mux.Handle("DELETE /api/auth/v2/users/{id}", admin(handleUserDelete(d)))
	mux.Handle("POST /api/auth/v2/users/{id}/mfa/reset", admin(handleUserMFAReset(d)))
	mux.Handle("GET /api/auth/v2/audit", admin(handleAuditList(d)))
	mux.Handle("GET /api/auth/v2/stats", admin(handleStatsGet(d)))
}

func handleUserList(d Deps) http.Handler {
	type response struct {
		Users      []auth.User `json:"users"`
		NextCursor *string     `json:"next_cursor"`
	}
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		limit, err := web.Limit(r)
		if err != nil {
			return err
		}
		actor, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		page, err := d.Admin.ListUsers(r.Context(), actor, q.Get("q"), q.Get("cursor"), limit)
		if err != nil {
			return err
		}
		if page.Users == nil {
			page.Users = []auth.User{}
		}
		web.Encode(w, r, d.Logger, http.StatusOK, response{Users: page.Users, NextCursor: web.Cursor(page.NextCursor)})
		return nil
	})
}

func handleUserCreate(d Deps) http.Handler {
	type request struct {
		Username string `json:"username"`
		Password string `json:"password"`
		FullName string `json:"full_name"`
		IsAdmin  bool   `json:"is_admin"`
	}
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		req, err := web.Decode[request](w, r)
		if err != nil {
			return err
		}
		actor, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		u, err := d.Admin.CreateUser(r.Context(), actor, auth.NewUserInput{
			Username: req.Username, Password: req.Password, FullName: req.FullName, IsAdmin: req.IsAdmin,
		})
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/auth/v2/users/"+strconv.FormatInt(u.ID, 10))
		web.Encode(w, r, d.Logger, http.StatusCreated, u)
		return nil
	})
}

func handleUserGet(d Deps) http.Handler {
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := web.PathID(r, "id")
		if err != nil {
			return err
		}
		actor, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		u, err := d.Admin.User(r.Context(), actor, id)
		if err != nil {
			return err
		}
		web.Encode(w, r, d.Logger, http.StatusOK, u)
		return nil
	})
}

func handleUserUpdate(d Deps) http.Handler {
	type request struct {
		FullName *string `json:"full_name"`
		IsAdmin  *bool   `json:"is_admin"`
		IsActive *bool   `json:"is_active"`
		Password *string `json:"password"`
	}
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := web.PathID(r, "id")
		if err != nil {
			return err
		}
		req, err := web.Decode[request](w, r)
		if err != nil {
			return err
		}
		actor, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		u, err := d.Admin.UpdateUser(r.Context(), actor, id, auth.UserChange{
			FullName: req.FullName, IsAdmin: req.IsAdmin, IsActive: req.IsActive, Password: req.Password,
		})
		if err != nil {
			return err
		}
		web.Encode(w, r, d.Logger, http.StatusOK, u)
		return nil
	})
}

func handleUserDelete(d Deps) http.Handler { return handleUserAct(d, d.Admin.DeleteUser) }

func handleUserMFAReset(d Deps) http.Handler { return handleUserAct(d, d.Admin.ResetMFA) }

// handleUserAct answers 204 once act, one admin operation on the user the
// path names, has succeeded.
func handleUserAct(d Deps, act func(ctx context.Context, actor auth.Session, id int64) error) http.Handler {
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := web.PathID(r, "id")
		if err != nil {
			return err
		}
		actor, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		if err := act(r.Context(), actor, id); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
