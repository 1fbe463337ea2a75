package health_test

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"authfn/functions/health"
	"authfn/pkg/auth"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

type report struct {
	Status  string                `json:"status"`
	Version string                `json:"version"`
	Checks  map[string]auth.Check `json:"checks"`
}

func serve(t *testing.T, svc *auth.Maintenance) *testenv.HTTP {
	logger := slog.New(slog.DiscardHandler)
	mux := http.NewServeMux()
	health.Register(mux, health.Deps{Logger: logger, Health: svc, Version: "v-test"})
	return testenv.NewHTTP(t, web.Stack(logger, mux, web.Options{}))
}

func TestHealthy(t *testing.T) {
	env := testenv.New(t)
	c := serve(t, env.Auth.Maintenance)
	var r report
	c.Do("GET", "/api/auth/v2/health", nil).Want(200).JSON(&r)
	if r.Status != "healthy" || r.Version != "v-test" {
		t.Errorf("status %q version %q, want healthy v-test", r.Status, r.Version)
	}
	for _, name := range []string{"postgres", "redis"} {
		chk, ok := r.Checks[name]
		if !ok || chk.Status != "healthy" || chk.LatencyMS <= 0 {
			t.Errorf("check %s = %+v, want healthy with a latency", name, chk)
		}
	}
	c.Do("POST", "/api/auth/v2/health", nil).Want(405, "method_not_allowed")
}

// TestStoreDown: /health says which store is down with 503, quickly;
// liveness answers without touching a store (docs/security.md 27, 28).
func TestStoreDown(t *testing.T) {
	env := testenv.New(t)
	for _, down := range testenv.Outages() {
		t.Run(down, func(t *testing.T) {
			c := serve(t, env.Down(t, down).Auth.Maintenance)
			start := time.Now()
			var r report
			c.Do("GET", "/api/auth/v2/health", nil).Want(503).JSON(&r)
			if time.Since(start) > 5*time.Second {
				t.Errorf("health took %s with a store down", time.Since(start))
			}
			if r.Status != "unhealthy" || r.Checks[down].Status != "unhealthy" {
				t.Errorf("report %+v, want unhealthy with %s unhealthy", r, down)
			}
			for name, chk := range r.Checks {
				if name != down && chk.Status != "healthy" {
					t.Errorf("%s reported %s, want healthy", name, chk.Status)
				}
			}
			var live map[string]string
			c.Do("GET", "/api/auth/v2/health/live", nil).Want(200).JSON(&live)
			if live["status"] != "alive" {
				t.Errorf("live = %v", live)
			}
		})
	}
}
