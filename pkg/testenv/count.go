package testenv

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"authfn/pkg/app"
	"authfn/pkg/postgres"
)

// RoundTrips counts the round trips a client makes: each Redis command or
// pipeline, and each PostgreSQL query. Tests use it to hold the cost of a
// request to what docs/architecture.md promises.
type RoundTrips struct {
	redis atomic.Int64
	pg    atomic.Int64
}

// Redis returns the Redis round trips counted since the last Reset.
func (c *RoundTrips) Redis() int64 { return c.redis.Load() }

// Postgres returns the PostgreSQL queries counted since the last Reset.
func (c *RoundTrips) Postgres() int64 { return c.pg.Load() }

// Reset zeroes both counts.
func (c *RoundTrips) Reset() {
	c.redis.Store(0)
	c.pg.Store(0)
}

// DialHook implements redis.Hook.
func (c *RoundTrips) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

// ProcessHook implements redis.Hook: one command, one round trip.
func (c *RoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.redis.Add(1)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook: a pipeline is one round trip.
func (c *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.redis.Add(1)
		return next(ctx, cmds)
	}
}

// TraceQueryStart implements pgx.QueryTracer.
func (c *RoundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.pg.Add(1)
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (c *RoundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Counted returns an Env like New's whose PostgreSQL (a database of its
// own) and Redis count their round trips in the returned RoundTrips.
// Its SQL is the counted store, so fixtures go where requests look.
func Counted(t testing.TB) (*Env, *RoundTrips) {
	t.Helper()
	env := New(t)
	trips := &RoundTrips{}
	pg, err := postgres.Open(context.Background(), PostgresURL(t), postgres.Options{Tracer: trips})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Close)
	env.Redis.AddHook(trips)
	env = env.With(t, app.Backends{SQL: pg, Redis: env.Redis})
	env.SQL = pg
	return env, trips
}
