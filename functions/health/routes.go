// Package health is the health endpoint group: a deep check of each store,
// a liveness answer that touches none, and the OpenAPI document.
package health

import (
	"context"
	"log/slog"
	"net/http"

	"authfn/pkg/auth"
	"authfn/pkg/web"
)

// Health is what the health group needs of the core: auth.Maintenance.
type Health interface {
	Health(ctx context.Context) auth.Health
}

// Deps are the dependencies of the health group.
type Deps struct {
	Logger  *slog.Logger
	Health  Health
	Version string
}

// Register adds the health group's routes to mux. This is the group's whole API surface.
func Register(mux web.Router, d Deps) {
	mux.Handle("GET /api/auth/v2/health", handleHealthGet(d))
	mux.Handle("GET /api/auth/v2/health/live", handleLiveGet(d))
	mux.Handle("GET /api/auth/v2/openapi.json", handleOpenAPIGet(d))
}

func handleHealthGet(d Deps) http.Handler {
	type response struct {
		Status  string                `json:"status"`
		Version string                `json:"version"`
		Checks  map[string]auth.Check `json:"checks"`
	}
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		h := d.Health.Health(r.Context())
		status := http.StatusOK
		if h.Status == auth.StatusUnhealthy {
			status = http.StatusServiceUnavailable
		}
		web.Encode(w, r, d.Logger, status, response{Status: h.Status, Version: d.Version, Checks: h.Checks})
		return nil
	})
}

// handleLiveGet answers without touching a store (docs/security.md 28): a
// process that can answer is alive, even while a store is down.
func handleLiveGet(d Deps) http.Handler {
	type response struct {
		Status  string `json:"status"`
		Version string `json:"version"`
	}
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		web.Encode(w, r, d.Logger, http.StatusOK, response{Status: "alive", Version: d.Version})
		return nil
	})
}
