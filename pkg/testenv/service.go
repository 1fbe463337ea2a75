package testenv

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"authfn/pkg/app"
	"authfn/pkg/auth"
	"authfn/pkg/postgres"
	"authfn/pkg/redisstore"
)

// Clock is a fake clock that tests move by hand.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Env is the service built by app.Build on real PostgreSQL and Redis,
// with a fake clock.
type Env struct {
	App      *app.App
	Auth     *auth.Service
	Config   app.Config
	Clock    *Clock
	SQL      *postgres.Store
	Sessions *redisstore.Store
	Redis    redis.UniversalClient
	// RedisPrefix starts every key of this Env's store.
	RedisPrefix string
}

// FlushRedis deletes every key of this Env, as a Redis flush or failover
// to an empty replica would.
func (e *Env) FlushRedis(t testing.TB) {
	t.Helper()
	if err := deleteRedisKeys(context.Background(), e.Redis, e.RedisPrefix+"*"); err != nil {
		t.Fatal(err)
	}
}

// Config returns the configuration tests run with: the real parser's
// defaults (pkg/app), a random JWT secret and MFA key, and bcrypt at its minimum
// cost, so that hundreds of logins under the race detector take seconds.
// (The real service refuses a cost below 10; pkg/app tests that.)
func Config(t testing.TB) app.Config {
	t.Helper()
	secret := make([]byte, 48)
	_, _ = rand.Read(secret)
	mfaKey := make([]byte, 32)
	_, _ = rand.Read(mfaKey)
	env := map[string]string{"JWT_SECRET": base64.RawURLEncoding.EncodeToString(secret), "MFA_KEY": base64.StdEncoding.EncodeToString(mfaKey)}
	cfg, err := app.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("testenv: configuration: %v", err)
	}
	cfg.BcryptCost = 4
	return cfg
}

// New returns an Env on a fresh database and Redis prefix. change, if
// given, adjusts the configuration first.
func New(t testing.TB, change ...func(*app.Config)) *Env {
	t.Helper()
	cfg := Config(t)
	for _, c := range change {
		c(&cfg)
	}
	pg := Postgres(t)
	rc, prefix := Redis(t)
	cfg.RedisKeyPrefix = prefix
	e := &Env{Config: cfg, Clock: NewClock(time.Now().UTC().Truncate(time.Microsecond)), SQL: pg, Redis: rc, RedisPrefix: prefix}
	return e.With(t, app.Backends{SQL: pg, Redis: rc})
}

// With returns a copy of e whose service is rebuilt on b (and e's
// configuration and clock), with opts for the core: a test swaps one store
// (a counting one, a racing one, one that is down) and keeps the others.
// e's own SQL and Redis fields stay e's, so the test can check through
// them what the rebuilt service did.
func (e *Env) With(t testing.TB, b app.Backends, opts ...auth.Option) *Env {
	t.Helper()
	a, err := app.Build(e.Config, slog.New(slog.DiscardHandler), b, append([]auth.Option{auth.WithClock(e.Clock.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	c := *e
	c.App, c.Auth = a, a.Auth
	if rs, ok := a.Stores.Sessions.(*redisstore.Store); ok && c.Sessions == nil {
		c.Sessions = rs
	}
	return &c
}

// CreateUser makes a user directly in the store, failing the test on
// error, and writes the audit event the admin route would. Fixtures are
// made below the core: the core's Admin refuses any actor that is not an
// admin, and the first user of a test has none to act for it.
func (e *Env) CreateUser(t testing.TB, username, password string, admin bool) auth.User {
	t.Helper()
	ctx := context.Background()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), e.Config.BcryptCost)
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.SQL.CreateUser(ctx, auth.NewUser{
		Username: username, FullName: "Test " + username, PasswordHash: string(hash),
		IsAdmin: admin, Source: auth.SourceLocal, CreatedAt: e.Clock.Now().UTC().Truncate(time.Microsecond),
	})
	if err != nil {
		t.Fatalf("create user %s: %v", username, err)
	}
	if err := e.SQL.RecordEvent(ctx, auth.Event{Time: e.Clock.Now().UTC(), Type: auth.EventUserCreated, TargetID: &u.ID,
		Username: u.Username, Details: map[string]any{"is_admin": u.IsAdmin}}); err != nil {
		t.Fatal(err)
	}
	return u
}

// Actor returns a session of an active admin, "operator", made for the
// test on first use, to act through the core's Admin: its rights come
// from the user record, as for any admin.
func (e *Env) Actor(t testing.TB) auth.Session {
	t.Helper()
	u, err := e.SQL.UserByUsername(context.Background(), "operator")
	if errors.Is(err, auth.ErrNotFound) {
		u, err = e.CreateUser(t, "operator", "operator password", true), nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return auth.Session{UserID: u.ID, Username: u.Username}
}

// DeadAddr is an address where nothing listens: a store pointed at it is down.
const DeadAddr = "127.0.0.1:1"

// Outages are the stores Down can take away, for table tests.
func Outages() []string { return []string{"redis", "postgres"} }

// Down returns a copy of e whose service runs with one store down ("redis"
// or "postgres": a client pointed at DeadAddr) and e's live stores
// otherwise, so that a test can prove both what fails (503, quickly) and
// that nothing was lost (through e afterwards).
func (e *Env) Down(t testing.TB, store string) *Env {
	t.Helper()
	b := app.Backends{SQL: e.SQL, Redis: e.Redis}
	switch store {
	case "redis":
		rc, err := redisstore.NewClient("redis://"+DeadAddr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rc.Close() })
		b.Redis = rc
	case "postgres":
		pg, err := postgres.Open(context.Background(), "postgres://postgres@"+DeadAddr+"/authfn?sslmode=disable", postgres.Options{QueryTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pg.Close)
		b.SQL = pg
	default:
		t.Fatalf("testenv: no store %q to take down", store)
	}
	return e.With(t, b)
}
