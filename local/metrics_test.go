package main

import (
	"net"
	"strings"
	"testing"

	"authfn/pkg/metrics"
	"authfn/pkg/testenv"
)

// TestMetricsListener runs the runner on PostgreSQL and Redis with
// METRICS_ADDR and does what an operator wants to see: logins that
// succeed, fail and get locked out, a refresh, a refresh reuse, GET /me
// and a cleanup. The scrape of /metrics, parsed by Prometheus's own text
// parser, moved by exactly that; /metrics is on its own listener, never on
// the API's.
func TestMetricsListener(t *testing.T) {
	_, prefix := testenv.Redis(t)
	env := map[string]string{
		"LOCAL_DIR": t.TempDir(), "DATABASE_URL": testenv.EmptyPostgresURL(t), "REDIS_URL": testenv.DefaultRedisURL,
		"REDIS_KEY_PREFIX": prefix, "ADMIN_PASSWORD": "first admin password", "BCRYPT_COST": "10",
		"METRICS_ADDR": "127.0.0.1:0", "LOGIN_MAX_FAILURES": "2", "REFRESH_REUSE_GRACE": "0",
	}
	r := start(t, env)
	lines := r.logs.lines("metrics listening")
	if len(lines) != 1 {
		t.Fatalf("%d 'metrics listening' lines, want 1:\n%s", len(lines), r.logs)
	}
	url := "http://" + lines[0]["addr"].(string) + "/metrics"
	before := testenv.ScrapeMetrics(t, url)

	first := r.login(t, "admin", "first admin password")
	if code, _ := r.do(t, "POST", "/api/auth/v2/refresh", "", map[string]any{"refresh_token": first["refresh_token"]}); code != 200 {
		t.Fatalf("refresh = %d, want 200", code)
	}
	if code, _ := r.do(t, "POST", "/api/auth/v2/refresh", "", map[string]any{"refresh_token": first["refresh_token"]}); code != 401 {
		t.Fatalf("refresh reuse = %d, want 401", code)
	}
	second := r.login(t, "admin", "first admin password")
	access := second["access_token"].(string)
	if code, _ := r.do(t, "GET", "/api/auth/v2/me", access, nil); code != 200 {
		t.Fatalf("me = %d, want 200", code)
	}
	for _, want := range []int{401, 401, 429} {
		if code, _ := r.do(t, "POST", "/api/auth/v2/login", "", map[string]string{"username": "mallory", "password": "wrong password"}); code != want {
			t.Fatalf("wrong password = %d, want %d", code, want)
		}
	}
	if code, body := r.do(t, "POST", "/api/auth/v2/cleanup", access, nil); code != 200 {
		t.Fatalf("cleanup = %d %v", code, body)
	}
	if code, _ := r.do(t, "GET", "/metrics", "", nil); code != 404 {
		t.Errorf("GET /metrics on the API's address = %d, want 404", code)
	}

	after := testenv.ScrapeMetrics(t, url)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{metrics.NameLogins, []string{"outcome", "succeeded"}, 2},
		{metrics.NameLogins, []string{"outcome", "failed"}, 2},
		{metrics.NameLogins, []string{"outcome", "locked"}, 1},
		{metrics.NameLogins, []string{"outcome", "unavailable"}, 0},
		{metrics.NameRefreshes, []string{"outcome", "rotated"}, 1},
		{metrics.NameRefreshes, []string{"outcome", "reused"}, 1},
		{metrics.NameRefreshes, []string{"outcome", "conflict"}, 0},
		{metrics.NameHTTPRequests, []string{"route", "/api/auth/v2/login", "method", "POST", "status", "200"}, 2},
		{metrics.NameHTTPRequests, []string{"route", "/api/auth/v2/login", "method", "POST", "status", "401"}, 2},
		{metrics.NameHTTPRequests, []string{"route", "/api/auth/v2/login", "method", "POST", "status", "429"}, 1},
		{metrics.NameHTTPRequests, []string{"route", "/api/auth/v2/refresh", "method", "POST", "status", "200"}, 1},
		{metrics.NameHTTPRequests, []string{"route", "/api/auth/v2/refresh", "method", "POST", "status", "401"}, 1},
		{metrics.NameHTTPRequests, []string{"route", "/api/auth/v2/me", "method", "GET", "status", "200"}, 1},
		{metrics.NameHTTPRequests, []string{"route", "/api/auth/v2/cleanup", "method", "POST", "status", "200"}, 1},
		{metrics.NameHTTPRequests, []string{"route", "unmatched", "method", "GET", "status", "404"}, 1},
		{metrics.NameStoreErrors, []string{"store", "postgres"}, 0},
		{metrics.NameStoreErrors, []string{"store", "redis"}, 0},
		{metrics.NameAuditWriteFailure, []string{"outcome", "lost"}, 0},
	} {
		if got := after.Value(c.name, c.labels...) - before.Value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := after.HistogramCount(metrics.NameHTTPDuration, "route", "/api/auth/v2/login", "method", "POST"); got != 5 {
		t.Errorf("login durations = %d, want 5", got)
	}
	// One session is left (the reuse revoked the first), of one user.
	if s, u := after.Value(metrics.NameSessionsActive), after.Value(metrics.NameUsersActive); s != 1 || u != 1 {
		t.Errorf("sessions, users active = %v, %v, want 1, 1", s, u)
	}
	for _, store := range []string{"postgres", "redis"} {
		if after.HistogramCount(metrics.NameStoreDuration, "store", store) <= before.HistogramCount(metrics.NameStoreDuration, "store", store) {
			t.Errorf("no %s round trip timed", store)
		}
	}
	for name := range after {
		if strings.HasPrefix(name, "authfn_") && strings.Contains(after[name].String(), "mallory") {
			t.Errorf("%s carries a username", name)
		}
	}
}

// TestMetricsAddrTaken: a METRICS_ADDR that another process holds stops
// the start with an error that names the variable.
func TestMetricsAddrTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	env := map[string]string{"LOCAL_DIR": t.TempDir(), "ADDR": "127.0.0.1:0", "METRICS_ADDR": ln.Addr().String(), "BCRYPT_COST": "10"}
	logs := &logBuffer{}
	err = run(t.Context(), nil, func(k string) string { return env[k] }, logs)
	if err == nil || !strings.Contains(err.Error(), "listen on METRICS_ADDR "+ln.Addr().String()) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("run with METRICS_ADDR taken = %v, want an error naming METRICS_ADDR and the address in use", err)
	}
}
