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

	"authfn/functions"
	"authfn/pkg/app"
	"authfn/pkg/auth"
	"authfn/pkg/web"
)

func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	a, setup, metricsHandler, err := open(ctx, getenv, stdout)
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := setup(ctx); err != nil {
		return err
	}

	mux := http.NewServeMux()
	functions.RegisterAll(mux, a)
	// The runner's root is where a newcomer lands after make run: the
	// console. (In AWS the API has no root route; the README gives the URL.)
	mux.Handle("GET /{$}", http.RedirectHandler("/api/auth/v2/console/", http.StatusFound))
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

	servers := []*http.Server{srv}
	errc := make(chan error, 2)
	if metricsHandler != nil {
		msrv, err := serveMetrics(ctx, a, metricsHandler, errc)
		if err != nil {
			ln.Close()
			return err
		}
		servers = append(servers, msrv)
	}
	go func() { errc <- srv.Serve(ln) }()
	go cleanupEvery(ctx, a, a.Config.CleanupInterval)
	select {
	case err := <-errc:
		for _, s := range servers {
			s.Close()
		}
		return err
	case <-ctx.Done():
	}
	a.Logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	for range servers {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return nil
}

// serveMetrics serves GET /metrics (Prometheus text) on METRICS_ADDR, a
// listener of its own: scrapers reach it without reaching the API, and
// the API's port never exposes it. Serve's result goes to errc.
func serveMetrics(ctx context.Context, a *app.App, h http.Handler, errc chan<- error) (*http.Server, error) {
	ln, err := net.Listen("tcp", a.Config.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on METRICS_ADDR %s: %w", a.Config.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
	}
	a.Logger.InfoContext(ctx, "metrics listening", "addr", ln.Addr().String(), "path", "/metrics")
	go func() { errc <- srv.Serve(ln) }()
	return srv, nil
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
			res, err := a.Auth.Maintenance.Cleanup(ctx)
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
