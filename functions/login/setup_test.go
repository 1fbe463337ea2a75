package login_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"authfn/functions/login"
	"authfn/pkg/auth"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

const password = "correct horse battery"

type fixture struct {
	*testenv.Env
	http *testenv.HTTP
	logs *testenv.Buffer
	// handler is the login group behind the real middleware, for the
	// OAuth2 endpoints, whose errors are not problem documents (see oauth).
	handler http.Handler
}

// setup builds the login group on real stores behind the real middleware.
func setup(t *testing.T, change ...func(*auth.Config)) *fixture {
	t.Helper()
	env := testenv.New(t, change...)
	return serve(t, env, web.Options{})
}

func serve(t *testing.T, env *testenv.Env, o web.Options) *fixture {
	t.Helper()
	logs := &testenv.Buffer{}
	logger := slog.New(web.LogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	mux := http.NewServeMux()
	login.Register(mux, login.Deps{Logger: logger, Auth: env.Auth})
	h := web.Stack(logger, mux, o)
	return &fixture{Env: env, http: testenv.NewHTTP(t, h), logs: logs, handler: h}
}

// login signs in through the route and returns the pair.
func (f *fixture) login(t *testing.T, username, pw string) auth.TokenPair {
	t.Helper()
	var p auth.TokenPair
	f.http.Do("POST", "/api/auth/v2/login", map[string]string{"username": username, "password": pw}).Want(200).JSON(&p)
	return p
}

func (f *fixture) events(t *testing.T, typ string) []auth.Event {
	t.Helper()
	ev, err := f.SQL.Events(context.Background(), auth.EventQuery{Type: typ, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}
