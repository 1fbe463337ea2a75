package metrics

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// RedisHook returns the go-redis hook that times every command and
// pipeline (one round trip each) as store "redis". Attach it where the
// client is made: client.AddHook(m.RedisHook()).
func (m *Metrics) RedisHook() redis.Hook { return redisHook{m} }

type redisHook struct{ m *Metrics }

func (redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.m.StoreCall(StoreRedis, time.Since(start), redisFailed(ctx, err) && !connectionSetup(cmd))
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.m.StoreCall(StoreRedis, time.Since(start), redisFailed(ctx, err) && !connectionSetup(cmds...))
		return err
	}
}

// connectionSetup reports whether cmds are what go-redis sends on a new
// connection (CLIENT SETINFO, CLIENT MAINT_NOTIFICATIONS), whose errors it
// ignores itself: a server that lacks a subcommand refuses it on every new
// connection, and that is not a fault. The service sends no CLIENT
// command of its own.
func connectionSetup(cmds ...redis.Cmder) bool {
	for _, c := range cmds {
		if c.Name() != "client" {
			return false
		}
	}
	return len(cmds) > 0
}

// redisFailed tells a store fault from an answer: a missing key (redis.Nil)
// and a script not yet cached (NOSCRIPT, which go-redis's Script.Run
// answers by sending the script) are answers, and a caller that gave up
// is not the store's fault.
func redisFailed(ctx context.Context, err error) bool {
	switch {
	case err == nil, errors.Is(err, redis.Nil), redis.HasErrorPrefix(err, "NOSCRIPT"):
		return false
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return false
	}
	return true
}

// PostgresTracer returns the pgx tracer that times every query as store
// "postgres"; set it as the pool's ConnConfig.Tracer
// (postgres.Options.Tracer). It also traces the pool's Acquire, where a
// database that cannot be reached fails before any query starts: such a
// failure is one store call and one error.
func (m *Metrics) PostgresTracer() pgx.QueryTracer { return pgTracer{m} }

type pgTracer struct{ m *Metrics }

var _ pgxpool.AcquireTracer = pgTracer{}

type (
	pgStartKey   struct{}
	pgAcquireKey struct{}
)

func (pgTracer) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	return context.WithValue(ctx, pgAcquireKey{}, time.Now())
}

func (t pgTracer) TraceAcquireEnd(ctx context.Context, _ *pgxpool.Pool, d pgxpool.TraceAcquireEndData) {
	start, ok := ctx.Value(pgAcquireKey{}).(time.Time)
	if !ok || d.Err == nil {
		return // a connection was had: the query that follows is the call
	}
	t.m.StoreCall(StorePostgres, time.Since(start), pgFailed(ctx, d.Err))
}

func (pgTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, pgStartKey{}, time.Now())
}

func (t pgTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	start, ok := ctx.Value(pgStartKey{}).(time.Time)
	if !ok {
		return
	}
	t.m.StoreCall(StorePostgres, time.Since(start), pgFailed(ctx, d.Err))
}

// pgFailed tells a store fault from an answer: no rows, and a constraint
// the statement ran into (class 23: a username taken), are answers; a
// caller that gave up is not the store's fault.
func pgFailed(ctx context.Context, err error) bool {
	var pe *pgconn.PgError
	switch {
	case err == nil, errors.Is(err, pgx.ErrNoRows):
		return false
	case errors.As(err, &pe) && strings.HasPrefix(pe.Code, "23"):
		return false
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return false
	}
	return true
}
