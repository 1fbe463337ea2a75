package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"authfn/functions"
	"authfn/pkg/app"
	"authfn/pkg/auth"
	"authfn/pkg/metrics"
	"authfn/pkg/redisstore"
	"authfn/pkg/testenv"
)

// lambdaEnv is what a Lambda function opens (app.Open), on the test's
// own database and Redis prefix: the pool metered by the pgx tracer, the
// Redis client by the hook, the core and middleware reporting to m.
type lambdaEnv struct {
	cfg app.Config
	m   *metrics.Metrics
}

func newLambdaEnv(t *testing.T, m *metrics.Metrics) lambdaEnv {
	t.Helper()
	cfg := testenv.Config(t)
	cfg.DatabaseURL = testenv.PostgresURL(t)
	cfg.RefreshReuseGrace = 0 // a rotated token that comes back is reuse at once
	cfg.LoginMaxFailures = 2
	cfg.AdminPassword = "the admin password"
	_, cfg.RedisKeyPrefix = testenv.Redis(t) // its keys are deleted when t ends
	e := lambdaEnv{cfg: cfg, m: m}
	a := e.open(t, cfg.DatabaseURL)
	if _, err := app.Setup(context.Background(), cfg, a.Logger, a.Stores.Users.(app.SQLStore), nil); err != nil {
		t.Fatal(err)
	}
	m.Flush() // what the setup recorded is no invocation's
	return e
}

// open builds the App as app.Open does, on the PostgreSQL at dbURL.
func (e lambdaEnv) open(t *testing.T, dbURL string) *app.App {
	t.Helper()
	cfg := e.cfg
	cfg.DatabaseURL = dbURL
	pg, err := app.OpenPostgres(context.Background(), cfg, app.Pooling{MaxConns: app.LambdaMaxConns}, e.m)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := redisstore.NewClient(testenv.DefaultRedisURL, cfg.StoreTimeout)
	if err != nil {
		t.Fatal(err)
	}
	app.Instrument(rc, e.m)
	a, err := app.Build(cfg, slog.New(slog.DiscardHandler), app.Backends{SQL: pg, Redis: rc, Metrics: e.m, Closers: []func(){pg.Close, func() { _ = rc.Close() }}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// invoker sends API Gateway HTTP API events to one function's handler.
type invoker struct {
	t *testing.T
	h func(context.Context, json.RawMessage) (any, error)
}

func handlerOf(t *testing.T, a *app.App, function string) invoker {
	g, ok := functions.Lookup(function)
	if !ok {
		t.Fatalf("no function %s", function)
	}
	return invoker{t, a.LambdaHandler(g.Register, g.Scheduled)}
}

func (iv invoker) http(method, path, bearer string, body any, wantStatus int) map[string]any {
	iv.t.Helper()
	headers := map[string]string{"content-type": "application/json", "user-agent": "metrics-test"}
	if bearer != "" {
		headers["authorization"] = "Bearer " + bearer
	}
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	raw, _ := json.Marshal(events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: path, Headers: headers, Body: string(b),
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req", Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, SourceIP: "203.0.113.9"}},
	})
	out, err := iv.h(context.Background(), raw)
	if err != nil {
		iv.t.Fatalf("%s %s: %v", method, path, err)
	}
	resp := out.(events.APIGatewayV2HTTPResponse)
	if resp.StatusCode != wantStatus {
		iv.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, wantStatus, resp.Body)
	}
	var v map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &v)
	return v
}

func (iv invoker) scheduled() {
	iv.t.Helper()
	raw := []byte(`{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","time":"2026-11-26T12:00:00Z","resources":[],"detail":{}}`)
	if _, err := iv.h(context.Background(), raw); err != nil {
		iv.t.Fatalf("scheduled cleanup: %v", err)
	}
}

// step is one invocation of the scenario, with what it must have recorded.
type step struct {
	name string
	run  func()
	// counters the invocation moves, by name and label pairs
	want map[string]float64
}

// scenario runs, invocation by invocation, what the metrics must tell:
// logins that succeed, fail and are locked out, a refresh, a refresh
// reuse, GET /me, a scheduled cleanup, and a logout whose audit event is
// lost because PostgreSQL is down. after is called after each invocation.
func scenario(t *testing.T, e lambdaEnv, after func(step)) {
	a := e.open(t, e.cfg.DatabaseURL)
	login, cleanup := handlerOf(t, a, "LoginFunction"), handlerOf(t, a, "CleanupFunction")
	down := handlerOf(t, e.open(t, "postgres://postgres@"+testenv.DeadAddr+"/authfn?sslmode=disable"), "LoginFunction")
	admin := map[string]string{"username": "admin", "password": "the admin password"}
	wrong := map[string]string{"username": "mallory", "password": "not the password"}
	var first, second map[string]any
	steps := []step{
		{"login", func() { first = login.http("POST", "/api/auth/v2/login", "", admin, 200) }, map[string]float64{
			"authfn_logins_total outcome=succeeded": 1, "authfn_http_requests_total route=/api/auth/v2/login method=POST status=200": 1}},
		{"refresh", func() {
			login.http("POST", "/api/auth/v2/refresh", "", map[string]any{"refresh_token": first["refresh_token"]}, 200)
		}, map[string]float64{"authfn_refresh_total outcome=rotated": 1, "authfn_http_requests_total route=/api/auth/v2/refresh method=POST status=200": 1}},
		{"refresh reuse", func() {
			login.http("POST", "/api/auth/v2/refresh", "", map[string]any{"refresh_token": first["refresh_token"]}, 401)
		}, map[string]float64{"authfn_refresh_total outcome=reused": 1, "authfn_http_requests_total route=/api/auth/v2/refresh method=POST status=401": 1}},
		{"login again", func() { second = login.http("POST", "/api/auth/v2/login", "", admin, 200) }, map[string]float64{
			"authfn_logins_total outcome=succeeded": 1, "authfn_http_requests_total route=/api/auth/v2/login method=POST status=200": 1}},
		{"me", func() { login.http("GET", "/api/auth/v2/me", second["access_token"].(string), nil, 200) }, map[string]float64{
			"authfn_http_requests_total route=/api/auth/v2/me method=GET status=200": 1}},
		{"wrong password", func() { login.http("POST", "/api/auth/v2/login", "", wrong, 401) }, map[string]float64{
			"authfn_logins_total outcome=failed": 1, "authfn_http_requests_total route=/api/auth/v2/login method=POST status=401": 1}},
		{"wrong password, lock starts", func() { login.http("POST", "/api/auth/v2/login", "", wrong, 401) }, map[string]float64{
			"authfn_logins_total outcome=failed": 1, "authfn_http_requests_total route=/api/auth/v2/login method=POST status=401": 1}},
		{"locked", func() { login.http("POST", "/api/auth/v2/login", "", wrong, 429) }, map[string]float64{
			"authfn_logins_total outcome=locked": 1, "authfn_http_requests_total route=/api/auth/v2/login method=POST status=429": 1}},
		{"scheduled cleanup", cleanup.scheduled, map[string]float64{"authfn_sessions_active": 1, "authfn_users_active": 1}},
		{"logout, PostgreSQL down", func() { down.http("POST", "/api/auth/v2/logout", second["access_token"].(string), nil, 200) }, map[string]float64{
			"authfn_audit_write_failures_total outcome=lost": 1, "authfn_store_errors_total store=postgres": 2,
			"authfn_http_requests_total route=/api/auth/v2/logout method=POST status=200": 1}},
	}
	for _, s := range steps {
		s.run()
		after(s)
	}
}

// key names a series as the steps do: the metric, then its labels in
// metrics.Defs' order.
func key(name string, dims map[string]string) string {
	k := name
	for _, d := range metrics.Defs() {
		if d.Name == name {
			for _, l := range d.Labels {
				k += " " + l + "=" + dims[l]
			}
		}
	}
	return k
}

// TestLambdaInvocationsWriteEMF runs the scenario through the Lambda
// handler, as a function serves it, with the EMF sink: after each
// invocation the lines written to the function's stdout are valid EMF
// (testenv.ParseEMF checks them against the specification) and hold
// exactly what that invocation did, its request's latency and its store
// round trips, and nothing of the invocations before it.
func TestLambdaInvocationsWriteEMF(t *testing.T) {
	var out bytes.Buffer
	e := newLambdaEnv(t, metrics.New(metrics.NewEMF(&out, nil)))
	scenario(t, e, func(s step) {
		points := testenv.ParseEMF(t, out.Bytes())
		out.Reset()
		got := map[string]float64{}
		for _, p := range points {
			if p.Unit == "Count" {
				for _, v := range p.Values {
					got[key(p.Name, p.Dims)] += v
				}
			}
		}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("%s: EMF counts (-want +got):\n%s", s.name, diff)
		}
		if s.name == "scheduled cleanup" {
			if n := testenv.EMFCount(points, metrics.NameStoreDuration, "store", "redis"); n == 0 {
				t.Errorf("%s: no Redis round trip timed", s.name)
			}
			return
		}
		if n := testenv.EMFCount(points, metrics.NameHTTPDuration); n != 1 {
			t.Errorf("%s: %d request durations, want 1", s.name, n)
		}
		if n := testenv.EMFCount(points, metrics.NameStoreDuration, "store", "redis"); n == 0 {
			t.Errorf("%s: no Redis round trip timed", s.name)
		}
	})
}

// TestBothSinksTellTheSameStory runs the scenario once with each sink:
// the Prometheus scrape and the sum of every invocation's EMF lines have
// the same metric names, all of metrics.Defs, and the same counts.
func TestBothSinksTellTheSameStory(t *testing.T) {
	var out bytes.Buffer
	var emfPoints []testenv.EMFPoint
	scenario(t, newLambdaEnv(t, metrics.New(metrics.NewEMF(&out, nil))), func(step) {
		emfPoints = append(emfPoints, testenv.ParseEMF(t, out.Bytes())...)
		out.Reset()
	})
	pm, scrape := testenv.NewMetrics(t)
	scenario(t, newLambdaEnv(t, pm), func(step) {})
	s := scrape()

	var promNames []string
	for name, f := range s {
		if !strings.HasPrefix(name, "authfn_") {
			continue
		}
		promNames = append(promNames, name)
		for _, m := range f.GetMetric() {
			dims := map[string]string{}
			for _, l := range m.GetLabel() {
				dims[l.GetName()] = l.GetValue()
			}
			var labels []string
			for k, v := range dims {
				labels = append(labels, k, v)
			}
			switch {
			case m.Histogram != nil && name == metrics.NameHTTPDuration:
				if p, e := m.Histogram.GetSampleCount(), testenv.EMFCount(emfPoints, name, labels...); p != uint64(e) {
					t.Errorf("%s%v: Prometheus count %d, EMF %d", name, labels, p, e)
				}
			case m.Counter != nil || m.Gauge != nil:
				p := s.Value(name, labels...)
				var e float64
				if m.Gauge != nil {
					e = testenv.EMFSum(emfPoints, name) // one gauge reading in the whole run
				} else {
					e = testenv.EMFSum(emfPoints, name, labels...)
				}
				if p != e {
					t.Errorf("%s%v: Prometheus %v, EMF %v", name, labels, p, e)
				}
			}
		}
	}
	var want []string
	for _, d := range metrics.Defs() {
		want = append(want, d.Name)
	}
	if diff := cmp.Diff(want, testenv.EMFNames(emfPoints), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("EMF names (-defs +EMF):\n%s", diff)
	}
	if diff := cmp.Diff(want, promNames, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("Prometheus names (-defs +scrape):\n%s", diff)
	}
	if got := s.Value(metrics.NameLogins, "outcome", string(auth.LoginSucceeded)); got != 2 {
		t.Errorf("logins succeeded = %v, want 2", got)
	}
}
