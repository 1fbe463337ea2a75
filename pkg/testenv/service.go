package testenv

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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

// Env is a core on real PostgreSQL and Redis, with a fake clock.
type Env struct {
	Auth     *auth.Service
	Config   auth.Config
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

// Config returns the configuration tests run with: the defaults of
// docs/architecture.md except bcrypt at its minimum cost, so that hundreds of logins
// under the race detector take seconds. (The real service refuses a cost
// below 10; pkg/app tests that.)
func Config() auth.Config {
	secret := make([]byte, 48)
	_, _ = rand.Read(secret)
	return auth.Config{
		Tokens: auth.TokenConfig{
			Issuer: "authfn", Audience: "authfn", TTL: 1800 * time.Second,
			Secret: []byte(base64.RawURLEncoding.EncodeToString(secret)),
		},
		RefreshTTL:        7 * 24 * time.Hour,
		SessionMaxAge:     30 * 24 * time.Hour,
		RefreshReuseGrace: 10 * time.Second,
		BcryptCost:        4,
		UserThrottle:      auth.ThrottlePolicy{Max: 5, Window: 15 * time.Minute, BaseLock: 30 * time.Second, MaxLock: 15 * time.Minute},
		IPThrottle:        auth.ThrottlePolicy{Max: 100, Window: 15 * time.Minute, BaseLock: 30 * time.Second, MaxLock: 15 * time.Minute},
		AuditRetention:    90 * 24 * time.Hour,
	}
}

// New returns an Env on a fresh database and Redis prefix. change, if
// given, adjusts the configuration first.
func New(t testing.TB, change ...func(*auth.Config)) *Env {
	t.Helper()
	cfg := Config()
	for _, c := range change {
		c(&cfg)
	}
	pg := Postgres(t)
	rc, prefix := Redis(t)
	rs := redisstore.New(rc, redisstore.Options{Prefix: prefix})
	clock := NewClock(time.Now().UTC().Truncate(time.Microsecond))
	svc, err := auth.NewService(cfg, auth.Stores{
		Users: pg, Preferences: pg, Audit: pg, Sessions: rs, Throttle: rs, Locker: rs,
	}, auth.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Auth: svc, Config: cfg, Clock: clock, SQL: pg, Sessions: rs, Redis: rc, RedisPrefix: prefix}
}

// CreateUser makes a user directly in the core, failing the test on error.
func (e *Env) CreateUser(t testing.TB, username, password string, admin bool) auth.User {
	t.Helper()
	u, err := e.Auth.CreateUser(context.Background(), auth.Session{}, auth.NewUserInput{
		Username: username, Password: password, FullName: "Test " + username, IsAdmin: admin,
	})
	if err != nil {
		t.Fatalf("create user %s: %v", username, err)
	}
	return u
}

// DeadAddr is an address where nothing listens: a store pointed at it is down.
const DeadAddr = "127.0.0.1:1"

// Outages are the stores Down can take away, for table tests.
func Outages() []string { return []string{"redis", "postgres"} }

// Down returns a copy of e whose core runs with one store down ("redis" or
// "postgres": a client pointed at DeadAddr) and e's live stores otherwise,
// so that a test can prove both what fails (503, quickly) and that nothing
// was lost (through e afterwards).
func (e *Env) Down(t testing.TB, store string) *Env {
	t.Helper()
	st := auth.Stores{Users: e.SQL, Preferences: e.SQL, Audit: e.SQL, Sessions: e.Sessions, Throttle: e.Sessions, Locker: e.Sessions}
	switch store {
	case "redis":
		rc, err := redisstore.NewClient("redis://"+DeadAddr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rc.Close() })
		dead := redisstore.New(rc, redisstore.Options{Timeout: time.Second})
		st.Sessions, st.Throttle, st.Locker = dead, dead, dead
	case "postgres":
		pg, err := postgres.Open(context.Background(), "postgres://postgres@"+DeadAddr+"/authfn?sslmode=disable", postgres.Options{QueryTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pg.Close)
		st.Users, st.Preferences, st.Audit = pg, pg, pg
	default:
		t.Fatalf("testenv: no store %q to take down", store)
	}
	svc, err := auth.NewService(e.Config, st, auth.WithClock(e.Clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	down := *e
	down.Auth = svc
	return &down
}
