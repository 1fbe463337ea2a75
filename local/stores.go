package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"authfn/pkg/app"
	"authfn/pkg/auth"
	"authfn/pkg/postgres"
	"authfn/pkg/redisstore"
	"authfn/pkg/sqlite"
)

// open builds the service on the embedded stores or the servers named by
// DATABASE_URL and REDIS_URL, applying migrations first.
func open(ctx context.Context, getenv func(string) string, stdout io.Writer) (*app.App, error) {
	dir := localDir(getenv)
	getenv, err := withLocalSecret(getenv, dir)
	if err != nil {
		return nil, err
	}
	cfg, err := app.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	logger := app.NewLogger(stdout, cfg.LogLevel)
	app.LogRedisTo(logger)
	var st auth.Stores
	var pg *postgres.Store
	var closers []func()
	fail := func(err error) (*app.App, error) {
		for _, c := range closers {
			c()
		}
		return nil, err
	}

	if cfg.DatabaseURL == "" {
		path := filepath.Join(dir, "authfn.db")
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			return fail(err)
		}
		closers = append(closers, func() { _ = s.Close() })
		st.Users, st.Preferences, st.Audit = s, s, s
		logger.InfoContext(ctx, "users on embedded SQLite", "path", path)
	} else {
		if pg, err = postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{QueryTimeout: cfg.StoreTimeout}); err != nil {
			return fail(err)
		}
		closers = append(closers, pg.Close)
		st.Users, st.Preferences, st.Audit = pg, pg, pg
		logger.InfoContext(ctx, "users on PostgreSQL")
	}

	var rc redis.UniversalClient
	if cfg.RedisURL == "" {
		mr, err := embeddedRedis(ctx)
		if err != nil {
			return fail(err)
		}
		closers = append(closers, mr.Close)
		rc = redis.NewClient(&redis.Options{Addr: mr.Addr()})
		logger.InfoContext(ctx, "sessions on in-process Redis (they end when the runner stops)", "addr", mr.Addr())
	} else {
		if rc, err = redisstore.NewClient(cfg.RedisURL, cfg.StoreTimeout); err != nil {
			return fail(err)
		}
		logger.InfoContext(ctx, "sessions on Redis")
	}
	closers = append(closers, func() { _ = rc.Close() })
	rs := redisstore.New(rc, redisstore.Options{Prefix: cfg.RedisKeyPrefix, Timeout: cfg.StoreTimeout})
	st.Sessions, st.Throttle, st.Locker = rs, rs, rs

	a, err := app.New(cfg, logger, st, closers...)
	if err != nil {
		return fail(err)
	}
	a.Postgres = pg
	return a, nil
}

// embeddedRedis starts an in-process Redis server that speaks the real
// protocol, so the real client and scripts run against it. Its clock only
// moves when told, so a ticker keeps it on wall time and keys expire.
func embeddedRedis(ctx context.Context) (*miniredis.Miniredis, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start in-process redis: %w", err)
	}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				mr.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	return mr, nil
}

func localDir(getenv func(string) string) string {
	if d := strings.TrimSpace(getenv("LOCAL_DIR")); d != "" {
		return d
	}
	return ".local"
}

// withLocalSecret supplies JWT_SECRET when it is not set: a random one,
// made once and kept in .local/ (mode 0600), so that tokens outlive a
// restart of the runner. Deployed functions get theirs from SSM instead.
func withLocalSecret(getenv func(string) string, dir string) (func(string) string, error) {
	if getenv("JWT_SECRET") != "" {
		return getenv, nil
	}
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
