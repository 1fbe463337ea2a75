package metrics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/metrics"
	"authfn/pkg/postgres"
	"authfn/pkg/redisstore"
	"authfn/pkg/testenv"
)

// TestRedisHook drives a real Redis through the hook: each command and
// each pipeline is one timed round trip; a missing key is an answer, not
// an error; a command the server refuses and a server that is down are
// errors; a caller that gave up is not the store's fault.
func TestRedisHook(t *testing.T) {
	m, scrape := testenv.NewMetrics(t)
	rc, prefix := testenv.Redis(t)
	rc.AddHook(m.RedisHook())
	var trips testenv.RoundTrips // what the client sent, a new connection's setup included
	rc.AddHook(&trips)
	ctx := context.Background()

	if err := rc.Get(ctx, prefix+"missing").Err(); err == nil {
		t.Fatal("GET of a missing key: no redis.Nil")
	}
	pipe := rc.Pipeline()
	pipe.Set(ctx, prefix+"k", "v", time.Minute)
	pipe.Get(ctx, prefix+"k")
	pipe.Del(ctx, prefix+"k")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	rc.Set(ctx, prefix+"s", "v", time.Minute)
	if err := rc.LPush(ctx, prefix+"s", "x").Err(); err == nil {
		t.Fatal("LPUSH on a string: no WRONGTYPE error")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_ = rc.Get(cctx, prefix+"k").Err()

	s := scrape()
	// GET, the pipeline, SET, LPUSH, the cancelled GET, and whatever
	// setup go-redis sent on connections it opened meanwhile.
	if n, want := s.HistogramCount(metrics.NameStoreDuration, "store", "redis"), trips.Redis(); n != uint64(want) || want < 5 {
		t.Errorf("redis round trips timed = %d, want %d (at least 5)", n, want)
	}
	if n := s.Value(metrics.NameStoreErrors, "store", "redis"); n != 1 {
		t.Errorf("redis errors = %v, want 1 (the WRONGTYPE only)", n)
	}

	// A new connection's setup (HELLO, CLIENT SETINFO ...), which an older
	// server partly refuses and go-redis shrugs off, is no error.
	fresh, err := redisstore.NewClient(testenv.DefaultRedisURL, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	fresh.AddHook(m.RedisHook())
	if err := fresh.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if n := scrape().Value(metrics.NameStoreErrors, "store", "redis"); n != 1 {
		t.Errorf("redis errors after a new connection = %v, want still 1", n)
	}

	dead, err := redisstore.NewClient("redis://"+testenv.DeadAddr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	dead.AddHook(m.RedisHook())
	if err := dead.Ping(ctx).Err(); err == nil {
		t.Fatal("PING of a dead server succeeded")
	}
	if n := scrape().Value(metrics.NameStoreErrors, "store", "redis"); n != 2 {
		t.Errorf("redis errors after a dead server = %v, want 2", n)
	}
}

// TestPostgresTracer drives the real PostgreSQL store through the tracer:
// every query is timed; no rows and a username taken are answers, a
// database that cannot be reached is an error.
func TestPostgresTracer(t *testing.T) {
	m, scrape := testenv.NewMetrics(t)
	ctx := context.Background()
	pg, err := postgres.Open(ctx, testenv.PostgresURL(t), postgres.Options{Tracer: m.PostgresTracer()})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	nu := auth.NewUser{Username: "alice", PasswordHash: "x", Source: auth.SourceLocal, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if _, err := pg.CreateUser(ctx, nu); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.CreateUser(ctx, nu); !errors.Is(err, auth.ErrUsernameTaken) {
		t.Fatalf("second CreateUser error = %v, want ErrUsernameTaken", err)
	}
	if _, err := pg.UserByUsername(ctx, "nobody"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("UserByUsername(nobody) error = %v, want ErrNotFound", err)
	}
	s := scrape()
	if n := s.HistogramCount(metrics.NameStoreDuration, "store", "postgres"); n < 3 {
		t.Errorf("postgres queries = %d, want at least 3", n)
	}
	if n := s.Value(metrics.NameStoreErrors, "store", "postgres"); n != 0 {
		t.Errorf("postgres errors = %v, want 0: a taken name and no rows are answers", n)
	}

	dead, err := postgres.Open(ctx, "postgres://postgres@"+testenv.DeadAddr+"/authfn?sslmode=disable", postgres.Options{Tracer: m.PostgresTracer()})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	if _, err := dead.UserByUsername(ctx, "alice"); auth.ErrorCode(err) != auth.CodeUnavailable {
		t.Fatalf("UserByUsername on a dead server error = %v, want CodeUnavailable", err)
	}
	if n := scrape().Value(metrics.NameStoreErrors, "store", "postgres"); n != 1 {
		t.Errorf("postgres errors after a dead server = %v, want 1", n)
	}
}
