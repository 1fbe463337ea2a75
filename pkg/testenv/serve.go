package testenv

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"authfn/functions"
	"authfn/pkg/auth"
	"authfn/pkg/web"
)

// Served is an Env's service serving some endpoint groups through the
// real routes and middleware: what every handler test drives.
type Served struct {
	*Env
	// Handler is the groups' mux behind web.Stack.
	Handler http.Handler
	// Logs holds the service's JSON log, debug level and up.
	Logs *Buffer

	mu      sync.Mutex
	clients map[testing.TB]*HTTP
}

// Serve registers the groups served by the named Lambda functions (the
// table in package functions: "LoginFunction", "UsersFunction", ...) on
// one mux, on e's service, behind the real middleware with o.
func (e *Env) Serve(t testing.TB, o web.Options, function ...string) *Served {
	t.Helper()
	logs := &Buffer{}
	logger := slog.New(web.LogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	a := *e.App
	a.Logger = logger
	mux := http.NewServeMux()
	for _, name := range function {
		g, ok := functions.Lookup(name)
		if !ok {
			t.Fatalf("testenv: no group is served by %s", name)
		}
		g.Register(mux, &a)
	}
	return &Served{Env: e, Handler: web.Stack(logger, mux, o), Logs: logs, clients: map[testing.TB]*HTTP{}}
}

// HTTP returns a client of s that reports to t, so that a failure inside a
// subtest fails that subtest.
func (s *Served) HTTP(t testing.TB) *HTTP {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[t]
	if !ok {
		c = NewHTTP(t, s.Handler)
		s.clients[t] = c
	}
	return c
}

// Login signs in through POST /login (headers are name, value pairs) and
// returns the pair, failing t on any other answer than 200.
func (s *Served) Login(t testing.TB, username, password string, headers ...string) auth.TokenPair {
	t.Helper()
	var p auth.TokenPair
	s.HTTP(t).Do("POST", "/api/auth/v2/login", map[string]string{"username": username, "password": password}, headers...).Want(200).JSON(&p)
	return p
}

// Events returns the newest audit events of type typ (every type when
// empty), at most 100.
func (e *Env) Events(t testing.TB, typ string) []auth.Event {
	t.Helper()
	ev, err := e.SQL.Events(context.Background(), auth.EventQuery{Type: typ, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}
