package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/redis/go-redis/v9"

	"authfn/pkg/app"
	"authfn/pkg/embedredis"
	"authfn/pkg/metrics/prom"
	"authfn/pkg/redisstore"
	"authfn/pkg/sqlite"
)

// open builds the service on the embedded stores or the servers named by
// DATABASE_URL and REDIS_URL, and returns it with app.Setup bound to its
// SQL store (migrations first on PostgreSQL; SQLite migrates when it opens)
// and, when METRICS_ADDR is set, the handler of its Prometheus metrics.
func open(ctx context.Context, getenv func(string) string, stdout io.Writer) (*app.App, func(context.Context) (app.SetupResult, error), http.Handler, error) {
	getenv, err := withLocalSecret(getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg, err := app.ConfigFromEnv(getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	logger := app.NewLogger(stdout, cfg.LogLevel)
	app.LogRedisTo(logger)
	var b app.Backends
	var migrate app.Migrate
	var metricsHandler http.Handler
	if cfg.MetricsAddr != "" {
		if b.Metrics, metricsHandler, err = prom.New(); err != nil {
			return nil, nil, nil, err
		}
	}
	fail := func(err error) (*app.App, func(context.Context) (app.SetupResult, error), http.Handler, error) {
		for i := len(b.Closers) - 1; i >= 0; i-- {
			b.Closers[i]()
		}
		return nil, nil, nil, err
	}
	if cfg.DatabaseURL == "" {
		path := filepath.Join(cfg.LocalDir, "authfn.db")
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			return fail(err)
		}
		b.Closers = append(b.Closers, func() { _ = s.Close() })
		b.SQL = s
		logger.InfoContext(ctx, "users on embedded SQLite", "path", path)
	} else {
		// The runner keeps its connections to itself: it prepares its
		// statements, which saves the database a parse and a plan per
		// query. Behind a transaction pooler, the URL asks for
		// default_query_exec_mode=cache_describe (README).
		pg, err := app.OpenPostgres(ctx, cfg, app.Pooling{StatementCache: true}, b.Metrics)
		if err != nil {
			return fail(err)
		}
		b.Closers = append(b.Closers, pg.Close)
		b.SQL, migrate = pg, app.PostgresMigrate(pg)
		logger.InfoContext(ctx, "users on PostgreSQL")
	}
	if cfg.RedisURL == "" {
		mr, err := embedredis.Start(ctx, embedredis.Options{Dir: cfg.LocalDir, Logger: logger})
		if err != nil {
			return fail(err)
		}
		b.Closers = append(b.Closers, func() { _ = mr.Close() })
		b.Redis = redis.NewClient(&redis.Options{Addr: mr.Addr()})
		logger.InfoContext(ctx, "sessions on in-process Redis, kept across restarts", "addr", mr.Addr(),
			"snapshot", filepath.Join(cfg.LocalDir, embedredis.SnapshotName))
	} else {
		if b.Redis, err = redisstore.NewClient(cfg.RedisURL, cfg.StoreTimeout); err != nil {
			return fail(err)
		}
		logger.InfoContext(ctx, "sessions on Redis")
	}
	rc := b.Redis
	b.Closers = append(b.Closers, func() { _ = rc.Close() })
	app.Instrument(rc, b.Metrics) // the in-process Redis too: the same client, the same protocol
	a, err := app.Build(cfg, logger, b)
	if err != nil {
		return nil, nil, nil, err
	}
	setup := func(ctx context.Context) (app.SetupResult, error) { return app.Setup(ctx, cfg, logger, b.SQL, migrate) }
	return a, setup, metricsHandler, nil
}

// withLocalSecret supplies JWT_SECRET when it is not set: a random one,
// made once and kept in .local/ (mode 0600), so that tokens outlive a
// restart of the runner. Deployed functions get theirs from Secrets Manager
// instead (template.yaml resolves it at deploy time).
func withLocalSecret(getenv func(string) string) (func(string) string, error) {
	if getenv("JWT_SECRET") != "" {
		return getenv, nil
	}
	// LOCAL_DIR is parsed by the config like every variable; the secret
	// must exist before the config is read, so read the directory through it.
	cfg, err := app.SetupConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	dir := cfg.LocalDir
	path := filepath.Join(dir, "jwt-secret")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		raw := make([]byte, 48)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		b = []byte(base64.RawURLEncoding.EncodeToString(raw))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("write local JWT secret: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read local JWT secret: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	return func(k string) string {
		if k == "JWT_SECRET" {
			return secret
		}
		return getenv(k)
	}, nil
}
