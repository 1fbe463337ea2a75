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

	"authfn/functions/health"
	"authfn/functions/login"
	"authfn/pkg/app"
	"authfn/pkg/web"
)

// routes registers every group on one router. Groups never share a
// pattern: ServeMux panics on a conflict, which the tests would catch.
func routes(r web.Router, a *app.App) {
	login.Register(r, login.Deps{Logger: a.Logger, Auth: a.Auth})
	health.Register(r, health.Deps{Logger: a.Logger, Auth: a.Auth, Version: app.Version()})
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
	if err := ensureAdmin(ctx, a); err != nil {
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

// ensureAdmin creates the first admin when there is none. A generated
// password is written to the log this once, as API.md asks: it is the only
// way to learn it, and it is never stored in clear.
func ensureAdmin(ctx context.Context, a *app.App) error {
	fa, err := a.Auth.EnsureFirstAdmin(ctx, a.Config.AdminUsername, a.Config.AdminPassword)
	if err != nil {
		return fmt.Errorf("create first admin: %w", err)
	}
	switch {
	case fa.Created && fa.Password != "":
		a.Logger.WarnContext(ctx, "first admin created with a generated password; it is shown only this once, change it",
			"username", fa.User.Username, "password", fa.Password)
	case fa.Created:
		a.Logger.InfoContext(ctx, "first admin created from ADMIN_PASSWORD", "username", fa.User.Username)
	}
	return nil
}
