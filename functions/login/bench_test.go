package login_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"authfn/bench/floor"
	"authfn/functions"
	"authfn/pkg/app"
	"authfn/pkg/auth"
	"authfn/pkg/postgres"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

// BenchmarkMe measures GET /me through the real routes and middleware next
// to package floor's GET /me in the same process and run: the same token
// verified with the same library and options, one Redis GET, one pgx
// primary-key read (pgx's statement cache), the same JSON. `make bench`
// prints GetMe as a ratio to Floor; scripts/load holds the same pair to
// its goal under load.
func BenchmarkMe(b *testing.B) {
	f := newBench(b, 0)
	pair := f.login(b, "alice")
	ctx := context.Background()
	if err := f.Redis.Set(ctx, f.RedisPrefix+"floor:"+pair.SessionID, "session", 0).Err(); err != nil {
		b.Fatal(err)
	}
	f.pair(b, "Floor", "/me", "GetMe", "/api/auth/v2/me", func(path string) *http.Request {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+pair.AccessToken)
		return req
	})
}

// BenchmarkLogin measures POST /login through the real routes and
// middleware next to package floor's, which does one bcrypt comparison at
// the same cost, the service's default floor for BCRYPT_COST (10).
func BenchmarkLogin(b *testing.B) {
	f := newBench(b, 10)
	f.CreateUser(b, "bob", password, false)
	body := `{"username":"bob","password":"` + password + `"}`
	f.pair(b, "Bcrypt", "/login", "Login", "/api/auth/v2/login", func(path string) *http.Request {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return req
	})
}

// pair runs the floor's route as the sub-benchmark floorName (the
// baseline of `make bench`'s ratios) and then the service's, each request
// made by req for the route's path and answered 200.
func (f *bench) pair(b *testing.B, floorName, floorPath, name, path string, req func(path string) *http.Request) {
	for _, bc := range []struct {
		name, path string
		h          http.Handler
	}{{floorName, floorPath, f.floor}, {name, path, f.h}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				rec := httptest.NewRecorder()
				bc.h.ServeHTTP(rec, req(bc.path))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// bench is the login group behind the real middleware, logging only
// errors as the load run's runner does, and package floor on the same
// stores.
type bench struct {
	*testenv.Env
	h, floor http.Handler
}

// newBench builds the fixture; a cost of 0 keeps testenv's bcrypt cost.
func newBench(b *testing.B, cost int) *bench {
	b.Helper()
	env := testenv.New(b, func(c *app.Config) {
		if cost > 0 {
			c.BcryptCost = cost
		}
	})
	// The runner's pooling: statements prepared once per connection.
	pg, err := postgres.Open(context.Background(), testenv.PostgresURL(b), postgres.Options{StatementCache: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pg.Close)
	env = env.With(b, app.Backends{SQL: pg, Redis: env.Redis})
	env.SQL = pg
	logger := slog.New(web.LogHandler(slog.NewJSONHandler(&testenv.Buffer{}, &slog.HandlerOptions{Level: slog.LevelError})))
	a := *env.App
	a.Logger = logger
	mux := http.NewServeMux()
	g, _ := functions.Lookup("LoginFunction")
	g.Register(mux, &a)

	cfg := env.SQL.Pool().Config()
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg) // pgx's default mode, in case the runner's ever changes
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), env.Config.BcryptCost)
	if err != nil {
		b.Fatal(err)
	}
	return &bench{
		Env: env,
		h:   web.Stack(logger, mux, env.App.Web),
		floor: floor.Handler(floor.Deps{
			Pool: pool, Redis: env.Redis, Secret: env.Config.JWTSecret,
			SessionPrefix: env.RedisPrefix + "floor:", PasswordHash: hash,
		}),
	}
}

// login creates username and starts a session of theirs.
func (f *bench) login(b *testing.B, username string) auth.TokenPair {
	b.Helper()
	f.CreateUser(b, username, password, false)
	p, err := f.Auth.Sessions.Login(context.Background(), username, password)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// reportCPU returns a func that reports the process's CPU time (user and
// system) per operation since reportCPU was called: unlike ns/op, which
// is mostly the round trips' wait, it is what a request costs the machine
// this process runs on.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
