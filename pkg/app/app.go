package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/redis/go-redis/v9"

	"authfn/pkg/auth"
	"authfn/pkg/gpustack"
	"authfn/pkg/postgres"
	"authfn/pkg/redisstore"
	"authfn/pkg/web"
)

// App is a configured service: what a main needs to serve requests.
type App struct {
	Config Config
	Logger *slog.Logger
	Auth   *auth.Service
	// Web configures the shared middleware (trusted proxies, CORS).
	Web web.Options
	// Postgres is the SQL store when it is PostgreSQL (nil on SQLite):
	// Setup migrates it.
	Postgres *postgres.Store
	closers  []func()
}

// Close releases the stores' connections.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// NewLogger returns the JSON logger every binary uses: stdout is what
// CloudWatch collects, and each record carries the request id.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(web.LogHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

// Open reads the configuration through getenv and opens the real stores:
// PostgreSQL at DATABASE_URL and Redis at REDIS_URL, both required. Clients
// connect lazily, so Open does no network round trip (a Lambda cold start
// pays none).
func Open(ctx context.Context, getenv func(string) string) (*App, error) {
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	var missing []error
	if cfg.DatabaseURL == "" {
		missing = append(missing, errors.New("DATABASE_URL is required"))
	}
	if cfg.RedisURL == "" {
		missing = append(missing, errors.New("REDIS_URL is required"))
	}
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}
	logger := NewLogger(os.Stdout, cfg.LogLevel)
	LogRedisTo(logger)
	// One Lambda instance serves one request at a time: two connections
	// are plenty, and many instances share the database's limit.
	pg, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{QueryTimeout: cfg.StoreTimeout, MaxConns: 2})
	if err != nil {
		return nil, err
	}
	rc, err := redisstore.NewClient(cfg.RedisURL, cfg.StoreTimeout)
	if err != nil {
		pg.Close()
		return nil, err
	}
	rs := redisstore.New(rc, redisstore.Options{Prefix: cfg.RedisKeyPrefix, Timeout: cfg.StoreTimeout})
	st := auth.Stores{Users: pg, Preferences: pg, Audit: pg, Sessions: rs, Throttle: rs, Locker: rs}
	a, err := New(cfg, logger, st, pg.Close, func() { _ = rc.Close() })
	if err != nil {
		return nil, err
	}
	a.Postgres = pg
	return a, nil
}

// New builds an App on stores that are already open; closers run on Close.
func New(cfg Config, logger *slog.Logger, st auth.Stores, closers ...func()) (*App, error) {
	opts := []auth.Option{auth.WithLogger(logger)}
	if cfg.GPUStackURL != "" {
		up, err := gpustack.New(gpustack.Options{URL: cfg.GPUStackURL, Timeout: cfg.GPUStackTimeout})
		if err != nil {
			return nil, fmt.Errorf("GPUSTACK_URL: %w", err)
		}
		opts = append(opts, auth.WithUpstream(up))
	}
	svc, err := auth.NewService(cfg.AuthConfig(), st, opts...)
	if err != nil {
		return nil, err
	}
	return &App{
		Config: cfg, Logger: logger, Auth: svc, closers: closers,
		Web: web.Options{TrustedProxies: cfg.TrustedProxies, AllowedOrigins: cfg.CORSOrigins},
	}, nil
}

// version is set at build time (-ldflags "-X authfn/pkg/app.version=...").
var version = "dev"

// Version is the build's version, reported by the health check.
func Version() string { return version }

// redisLogger sends go-redis's own messages (dial failures and the like)
// to slog instead of plain text on stderr.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, "redis client", "msg_detail", fmt.Sprintf(format, v...))
}

// LogRedisTo routes go-redis's package-level logger to l. go-redis keeps
// that logger in a global, so mains call this once at start.
func LogRedisTo(l *slog.Logger) { redis.SetLogger(redisLogger{l}) }
