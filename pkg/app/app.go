// Package app turns configuration and opened stores into a running
// service. Build is the one builder every binary uses: the Lambda mains
// (through Open), the local runner (on embedded or real stores) and the
// tests (pkg/testenv). The embedded stores are opened in local/ only, so
// no Lambda links them.
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
	"authfn/pkg/metrics"
	"authfn/pkg/postgres"
	"authfn/pkg/redisstore"
	"authfn/pkg/web"
)

// App is a configured service: what a main needs to serve requests.
type App struct {
	Config Config
	Logger *slog.Logger
	Auth   *auth.Service
	// Stores are the stores the core runs on (tests reach past the core
	// through them to set up or inspect state).
	Stores auth.Stores
	// Web configures the shared middleware (trusted proxies, CORS, metrics).
	Web web.Options
	// Metrics is what the service records into (nil: nothing). Lambda
	// flushes it after each invocation; the runner serves it.
	Metrics *metrics.Metrics
	closers []func()
}

// Close releases the stores' connections, last opened first.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// SQLStore is what the service keeps in a SQL database: PostgreSQL when
// deployed, SQLite in the local runner's embedded default.
type SQLStore interface {
	auth.UserStore
	auth.PreferenceStore
	auth.AuditStore
	auth.MFAStore
}

// Backends are the opened stores an App runs on, and how to close them.
type Backends struct {
	SQL   SQLStore
	Redis redis.UniversalClient
	// Closers run on App.Close, last first (and at once when Build fails).
	Closers []func()
	// Metrics, if set, receives the core's and the middleware's counts.
	// The store clients report to it only if their opener attached its
	// hooks (Instrument, OpenPostgresMetered).
	Metrics *metrics.Metrics
}

func (b Backends) close() {
	for i := len(b.Closers) - 1; i >= 0; i-- {
		b.Closers[i]()
	}
}

// Build builds the App from cfg on the chosen backends: the Redis store
// over b.Redis (cfg's key prefix and store timeout), the GPUStack upstream
// when configured (and, with its API key, cleanup's re-check of its users),
// and the core. It does no I/O. opts go to the core
// (tests fake the clock). On error the backends are closed.
func Build(cfg Config, logger *slog.Logger, b Backends, opts ...auth.Option) (*App, error) {
	rs := redisstore.New(b.Redis, redisstore.Options{Prefix: cfg.RedisKeyPrefix, Timeout: cfg.StoreTimeout})
	st := auth.Stores{Users: b.SQL, Preferences: b.SQL, Audit: b.SQL, MFA: b.SQL, Sessions: rs, Throttle: rs, Locker: rs, MFAChallenges: rs}
	opts = append([]auth.Option{auth.WithLogger(logger)}, opts...)
	if cfg.GPUStackURL != "" {
		up, err := gpustack.New(gpustack.Options{URL: cfg.GPUStackURL, Timeout: cfg.GPUStackTimeout, APIKey: cfg.GPUStackAPIKey})
		if err != nil {
			b.close()
			return nil, fmt.Errorf("GPUSTACK_URL: %w", err)
		}
		opts = append(opts, auth.WithUpstream(up))
		if cfg.GPUStackAPIKey != "" {
			opts = append(opts, auth.WithUpstreamDirectory(up))
		}
	}
	o := webOptions(cfg, b.Metrics)
	if b.Metrics != nil {
		opts = append(opts, auth.WithMetrics(b.Metrics))
	}
	svc, err := auth.New(cfg.AuthConfig(), st, opts...)
	if err != nil {
		b.close()
		return nil, err
	}
	return &App{Config: cfg, Logger: logger, Auth: svc, Stores: st, Web: o, Metrics: b.Metrics, closers: b.Closers}, nil
}

// LambdaMaxConns bounds each Lambda instance's PostgreSQL pool. One
// instance serves one request at a time: two connections are plenty, and
// many instances share the database's connection limit.
const LambdaMaxConns = 2

// Pooling is how a binary shares its PostgreSQL connections.
// Lambdas reach the database through RDS Proxy or PgBouncer when many
// instances run, so they use Pooling{MaxConns: LambdaMaxConns}: a small
// pool and unnamed statements only. The local runner, one long-lived
// process with a pool of its own, prepares its statements.
type Pooling struct {
	// MaxConns bounds the pool (0: postgres.DefaultMaxConns).
	MaxConns int32
	// StatementCache: the binary keeps its connections to itself, so
	// statements may be prepared once per connection
	// (postgres.Options.StatementCache).
	StatementCache bool
}

// Open reads the configuration through getenv and builds the App on the
// real stores: PostgreSQL at DATABASE_URL and Redis at REDIS_URL, both
// required. It is what every Lambda main calls. Clients connect lazily,
// so Open does no network round trip (a cold start pays none).
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
	m := lambdaMetrics()
	pg, err := OpenPostgres(ctx, cfg, Pooling{MaxConns: LambdaMaxConns}, m)
	if err != nil {
		return nil, err
	}
	rc, err := redisstore.NewClient(cfg.RedisURL, cfg.StoreTimeout)
	if err != nil {
		pg.Close()
		return nil, err
	}
	Instrument(rc, m)
	return Build(cfg, logger, Backends{SQL: pg, Redis: rc, Metrics: m, Closers: []func(){pg.Close, func() { _ = rc.Close() }}})
}

// OpenPostgres opens the PostgreSQL store at cfg.DatabaseURL with cfg's
// store timeout, pooled as p says, with every query timed into m (nil:
// none) as store "postgres". Every binary opens PostgreSQL through here,
// so their options cannot drift.
func OpenPostgres(ctx context.Context, cfg Config, p Pooling, m *metrics.Metrics) (*postgres.Store, error) {
	o := postgres.Options{QueryTimeout: cfg.StoreTimeout, MaxConns: p.MaxConns, StatementCache: p.StatementCache}
	if m != nil {
		o.Tracer = m.PostgresTracer()
	}
	return postgres.Open(ctx, cfg.DatabaseURL, o)
}

// Instrument times every command and pipeline of rc into m (nil: none) as
// store "redis". Call it where the client is made, before it is shared.
func Instrument(rc redis.UniversalClient, m *metrics.Metrics) {
	if m != nil {
		rc.AddHook(m.RedisHook())
	}
}

// lambdaMetrics is where a function's metrics go: stdout as EMF lines,
// next to the log. CloudWatch Logs extracts them, so a function makes no
// network call for them.
func lambdaMetrics() *metrics.Metrics { return metrics.New(metrics.NewEMF(os.Stdout, nil)) }

// webOptions configures the shared middleware from cfg; m may be nil.
func webOptions(cfg Config, m *metrics.Metrics) web.Options {
	o := web.Options{TrustedProxies: cfg.TrustedProxies, AllowedOrigins: cfg.CORSOrigins}
	if m != nil {
		o.Metrics = m // a nil *Metrics in the interface field would not be nil
	}
	return o
}

// NewLogger returns the JSON logger every binary uses: stdout is what
// CloudWatch collects, and each record carries the request id.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(web.LogHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
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
