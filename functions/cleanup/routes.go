// Package cleanup is the endpoint group that runs the cleanup job on
// demand. The scheduler runs the same job without HTTP (see bootstrap).
package cleanup

import (
	"context"
	"log/slog"
	"net/http"

	"authfn/pkg/auth"
	"authfn/pkg/web"
)

// Admin is what the cleanup group needs of the core: auth.Admin, whose
// Cleanup checks the actor's rights itself.
type Admin interface {
	web.Authorizer
	Cleanup(ctx context.Context, actor auth.Session) (auth.CleanupResult, error)
}

// Deps are the dependencies of the cleanup group.
type Deps struct {
	Logger *slog.Logger
	Auth   web.Authenticator
	Admin  Admin
}

// Register adds the cleanup group's routes to mux. This is the group's whole API surface.
func Register(mux web.Router, d Deps) {
	mux.Handle("POST /api/auth/v2/cleanup", web.RequireAdmin(d.Logger, d.Auth, d.Admin, handleCleanupRun(d)))
}

func handleCleanupRun(d Deps) http.Handler {
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), auth.DefaultCleanupBudget)
		defer cancel()
		actor, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		res, err := d.Admin.Cleanup(ctx, actor)
		if err != nil {
			return err
		}
		web.Encode(w, r, d.Logger, http.StatusOK, res)
		return nil
	})
}
