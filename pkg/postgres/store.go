// Package postgres keeps users, preferences and the audit log in
// PostgreSQL through pgx. It implements auth.UserStore, auth.PreferenceStore
// and auth.AuditStore, and applies the schema in infra/migrations/postgres.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"authfn/pkg/auth"
)

// Defaults, chosen so that PostgreSQL being down answers a request within
// about 5 s (docs/security.md rule 27).
const (
	// DefaultQueryTimeout is Options.QueryTimeout when zero.
	DefaultQueryTimeout = 3 * time.Second
	// DefaultMaxConns is Options.MaxConns when zero.
	DefaultMaxConns = 4
	// DefaultConnectTimeout is the connect_timeout of a URL that sets none;
	// pgxpool would otherwise wait up to two minutes.
	DefaultConnectTimeout = 2 * time.Second
	// statementCacheCapacity bounds each connection's statement and
	// description caches: more than the store's distinct statements.
	statementCacheCapacity = 64
)

// Options tune a Store. The zero value is usable.
type Options struct {
	// QueryTimeout bounds every method call, connecting included, so that
	// a database that is down or stuck costs a request a few seconds and
	// never API Gateway's 29 s. Default DefaultQueryTimeout.
	QueryTimeout time.Duration
	// MaxConns caps the pool. Default DefaultMaxConns, unless the URL sets
	// pool_max_conns; many Lambda instances share one server, so keep it small.
	MaxConns int32
	// Tracer, if set, sees every query (tests count round trips with it).
	Tracer pgx.QueryTracer
	// StatementCache prepares each statement once per connection (pgx's
	// own default), so that PostgreSQL parses and plans it once rather
	// than on every query: on GET /me that is most of the database's CPU.
	// Only for a process that keeps its connections to itself: a
	// transaction pooler in between (RDS Proxy, PgBouncer without
	// max_prepared_statements) pins or loses prepared statements. Without
	// it the store uses unnamed statements only. A URL that sets
	// default_query_exec_mode wins either way.
	StatementCache bool
}

// Store is the PostgreSQL implementation of the core's SQL-backed stores.
// It is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	timeout time.Duration
}

var (
	_ auth.UserStore       = (*Store)(nil)
	_ auth.PreferenceStore = (*Store)(nil)
	_ auth.AuditStore      = (*Store)(nil)
)

// Open parses databaseURL and builds a pool without connecting: the first
// query connects, so a Lambda cold start pays no round trip and a database
// that is down fails requests with CodeUnavailable rather than the start.
// A URL without connect_timeout gets DefaultConnectTimeout.
// A malformed URL is a plain error (a configuration problem, so
// auth.ErrorCode says CodeInternal) whose message withholds the URL.
func Open(ctx context.Context, databaseURL string, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// pgx redacts passwords from its message only on a best-effort
		// basis, and this error ends up in logs.
		return nil, errors.New("postgres: malformed database URL (details withheld: they may contain the password)")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	switch {
	case o.MaxConns > 0:
		cfg.MaxConns = o.MaxConns
	case !strings.Contains(databaseURL, "pool_max_conns"):
		cfg.MaxConns = DefaultMaxConns
	}
	if !strings.Contains(databaseURL, "default_query_exec_mode") && !o.StatementCache {
		// Only unnamed statements: each query goes out as one
		// Parse/Bind/Execute/Sync batch, one round trip that leaves no
		// prepared statement on the connection, so it works through
		// PgBouncer in transaction mode and RDS Proxy without pinning a
		// backend connection to a client: what many Lambda instances
		// sharing one database need. Unlike the simple protocol, pgx
		// remembers each statement's column types (one extra round trip
		// the first time a connection runs it) and reads results in the
		// binary format, which costs a request a fraction of the CPU of
		// formatting arguments into SQL text and parsing text results.
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	}
	// pgx sizes both caches for 512 statements on every connection; the
	// store has a few dozen, and the caches' maps were a good part of a
	// busy runner's heap. LRU eviction covers any surplus.
	if !strings.Contains(databaseURL, "statement_cache_capacity") {
		cfg.ConnConfig.StatementCacheCapacity = statementCacheCapacity
	}
	if !strings.Contains(databaseURL, "description_cache_capacity") {
		cfg.ConnConfig.DescriptionCacheCapacity = statementCacheCapacity
	}
	if o.Tracer != nil {
		cfg.ConnConfig.Tracer = o.Tracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: new pool: %w", err)
	}
	return NewStore(pool, o), nil
}

// NewStore wraps a pool the caller built. Close closes the pool.
func NewStore(pool *pgxpool.Pool, o Options) *Store {
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	return &Store{pool: pool, timeout: o.QueryTimeout}
}

// Pool returns the underlying pool, for Migrate and for tests.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers. Returns CodeUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.pool.Ping(qctx); err != nil {
		return translate(ctx, err, "ping")
	}
	return nil
}

// bound gives one method call its deadline.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// inTx runs fn in one transaction under the method's deadline. Errors come
// back untranslated; the caller translates them with its own context.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}
