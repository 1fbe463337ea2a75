package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"authfn/functions/cleanup"
	"authfn/functions/health"
	"authfn/functions/login"
	"authfn/functions/preferences"
	"authfn/functions/sessions"
	"authfn/functions/users"
	"authfn/pkg/app"
	"authfn/pkg/auth"
	"authfn/pkg/web"
)

// groups are the endpoint groups, named by their Lambda function in
// template.yaml, so that a test can hold each function's routes to its group's.
func groups(a *app.App) map[string]func(web.Router) {
	return map[string]func(web.Router){
		"LoginFunction":       func(r web.Router) { login.Register(r, login.Deps{Logger: a.Logger, Auth: a.Auth}) },
		"UsersFunction":       func(r web.Router) { users.Register(r, users.Deps{Logger: a.Logger, Auth: a.Auth}) },
		"SessionsFunction":    func(r web.Router) { sessions.Register(r, sessions.Deps{Logger: a.Logger, Auth: a.Auth}) },
		"PreferencesFunction": func(r web.Router) { preferences.Register(r, preferences.Deps{Logger: a.Logger, Auth: a.Auth}) },
		"CleanupFunction":     func(r web.Router) { cleanup.Register(r, cleanup.Deps{Logger: a.Logger, Auth: a.Auth}) },
		"HealthFunction": func(r web.Router) {
			health.Register(r, health.Deps{Logger: a.Logger, Auth: a.Auth, Version: app.Version()})
		},
	}
}

// routes registers every group on one router. Groups never share a
// pattern: ServeMux panics on a conflict, which the tests would catch.
func routes(r web.Router, a *app.App) {
	for _, register := range groups(a) {
		register(r)
	}
}

// Routes lists the patterns the local runner serves.
func Routes(a *app.App) []string {
	rr := &web.RouteRecorder{Mux: http.NewServeMux()}
	routes(rr, a)
	return rr.Patterns
}

func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	a, err := open(ctx, getenv, stdout)
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := a.Setup(ctx); err != nil {
		return err
	}

	mux := http.NewServeMux()
	routes(mux, a)
	srv := &http.Server{
		Handler:           web.Stack(a.Logger, mux, a.Web),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10, // an 8 KiB token fits; megabytes of headers do not
		ErrorLog:          slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", a.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.Config.Addr, err)
	}
	a.Logger.InfoContext(ctx, "listening", "addr", ln.Addr().String(), "version", app.Version())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	go cleanupEvery(ctx, a, a.Config.CleanupInterval)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.Logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// cleanupEvery runs the cleanup job on a timer, as the scheduler does in
// AWS. A run that finds another holding the lock (a second runner on the
// same Redis) is skipped quietly.
func cleanupEvery(ctx context.Context, a *app.App, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			res, err := a.Auth.Cleanup(ctx)
			switch {
			case auth.ErrorCode(err) == auth.CodeConflict:
				a.Logger.InfoContext(ctx, "cleanup skipped: another run holds the lock")
			case err != nil:
				a.Logger.ErrorContext(ctx, "cleanup failed", "err", err)
			default:
				a.Logger.InfoContext(ctx, "cleanup", "removed", res.Removed, "complete", res.Complete, "duration_ms", res.DurationMS)
			}
		}
	}
}
