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

// localSecrets are the secrets the runner makes for itself when the
// environment does not set them: random, made once and kept in LOCAL_DIR
// (mode 0600), so that tokens and sealed MFA secrets outlive a restart of
// the runner. Deployed functions get theirs from Secrets Manager instead
// (template.yaml resolves them at deploy time).
var localSecrets = []struct {
	env, file string
	bytes     int
	encode    func([]byte) string
}{
	{"JWT_SECRET", "jwt-secret", 48, base64.RawURLEncoding.EncodeToString},
	// 32 bytes in standard base64: what MFA_KEY must be.
	{"MFA_KEY", "mfa-key", 32, base64.StdEncoding.EncodeToString},
}

// withLocalSecret supplies each of localSecrets that is not set, from its
// file in LOCAL_DIR, making the file on first use.
func withLocalSecret(getenv func(string) string) (func(string) string, error) {
	made := map[string]string{}
	for _, ls := range localSecrets {
		if getenv(ls.env) != "" {
			continue
		}
		// LOCAL_DIR is parsed by the config like every variable; the secret
		// must exist before the config is read, so read the directory through it.
		cfg, err := app.SetupConfigFromEnv(getenv)
		if err != nil {
			// The full parse that follows reports this with every other
			// problem at once.
			return getenv, nil
		}
		v, err := localSecret(cfg.LocalDir, ls.file, ls.bytes, ls.encode)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ls.env, err)
		}
		made[ls.env] = v
	}
	if len(made) == 0 {
		return getenv, nil
	}
	return func(k string) string {
		if v, ok := made[k]; ok {
			return v
		}
		return getenv(k)
	}, nil
}

// localSecret reads dir/file, or writes n random bytes there first.
func localSecret(dir, file string, n int, encode func([]byte) string) (string, error) {
	path := filepath.Join(dir, file)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		raw := make([]byte, n)
		if _, err := rand.Read(raw); err != nil {
			return "", err
		}
		b = []byte(encode(raw))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return "", fmt.Errorf("write local secret: %w", err)
		}
	} else if err != nil {
		return "", fmt.Errorf("read local secret: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
