package login_test

import (
	"net/http"
	"testing"

	"authfn/pkg/app"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

const password = "correct horse battery"

// fixture is the login group served on real stores behind the real
// middleware (testenv.Served), with a client reporting to the test.
type fixture struct {
	*testenv.Served
	http *testenv.HTTP
	logs *testenv.Buffer
	// handler is the login group behind the real middleware, for the
	// OAuth2 endpoints, whose errors are not problem documents (see oauth).
	handler http.Handler
}

// setup serves the login group; change adjusts the configuration.
func setup(t *testing.T, change ...func(*app.Config)) *fixture {
	t.Helper()
	return serve(t, testenv.New(t, change...), web.Options{})
}

func serve(t *testing.T, env *testenv.Env, o web.Options) *fixture {
	t.Helper()
	s := env.Serve(t, o, "LoginFunction")
	return &fixture{Served: s, http: s.HTTP(t), logs: s.Logs, handler: s.Handler}
}
