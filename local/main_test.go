package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"authfn/functions"
	"authfn/pkg/gpustack/gpustacktest"
	"authfn/pkg/testenv"
)

// logBuffer collects the runner's JSON log lines.
type logBuffer struct{ testenv.Buffer }

// lines returns the log records that have msg.
func (l *logBuffer) lines(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.Bytes()))
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// runner is one run of the local runner in the background.
type runner struct {
	base string
	logs *logBuffer
	stop func() error
}

// start runs run() with env and waits until /health/live answers.
func start(t *testing.T, env map[string]string, args ...string) *runner {
	t.Helper()
	env["ADDR"] = "127.0.0.1:0"
	logs := &logBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, logs) }()
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			return fmt.Errorf("runner did not stop")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("runner exited: %v\n%s", err, logs)
		default:
		}
		if l := logs.lines("listening"); len(l) > 0 {
			base := "http://" + l[0]["addr"].(string)
			if resp, err := http.Get(base + "/api/auth/v2/health/live"); err == nil {
				resp.Body.Close()
				r := &runner{base: base, logs: logs, stop: stop}
				t.Cleanup(func() { _ = r.stop() })
				return r
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = stop()
	t.Fatalf("runner did not listen in time\n%s", logs)
	return nil
}

func (r *runner) do(t *testing.T, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, r.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (r *runner) login(t *testing.T, user, pw string) map[string]any {
	t.Helper()
	code, body := r.do(t, "POST", "/api/auth/v2/login", "", map[string]string{"username": user, "password": pw})
	if code != 200 {
		t.Fatalf("login %s = %d %v", user, code, body)
	}
	return body
}

// TestEmbeddedDefault: with no DATABASE_URL or REDIS_URL the runner serves
// the first admin on embedded stores, and users and sessions survive a
// restart.
func TestEmbeddedDefault(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"LOCAL_DIR": dir, "ADMIN_PASSWORD": "first admin password", "BCRYPT_COST": "10"}
	r := start(t, env)
	tok := r.login(t, "admin", "first admin password")
	access := tok["access_token"].(string)
	if code, me := r.do(t, "GET", "/api/auth/v2/me", access, nil); code != 200 || me["is_admin"] != true {
		t.Fatalf("me = %d %v", code, me)
	}
	if code, h := r.do(t, "GET", "/api/auth/v2/health", "", nil); code != 200 || h["status"] != "healthy" {
		t.Errorf("health = %d %v", code, h)
	}
	// A newcomer opens the root after make run and lands on the console.
	page, err := http.Get(r.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	if page.StatusCode != 200 || page.Request.URL.Path != "/api/auth/v2/console/" || page.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("GET / = %d %s at %s, want the console's page at /api/auth/v2/console/", page.StatusCode, page.Header.Get("Content-Type"), page.Request.URL)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if len(r.logs.lines("shutting down")) != 1 {
		t.Error("no graceful shutdown logged")
	}
	r = start(t, env)
	// docs/security.md 37: the session, its access token and its refresh
	// token outlive a graceful restart of the embedded default.
	if code, me := r.do(t, "GET", "/api/auth/v2/me", access, nil); code != 200 || me["username"] != "admin" {
		t.Errorf("me with the token from before the restart = %d %v, want 200", code, me)
	}
	code, next := r.do(t, "POST", "/api/auth/v2/refresh", "", map[string]string{"refresh_token": tok["refresh_token"].(string)})
	if code != 200 || next["session_id"] != tok["session_id"] {
		t.Fatalf("refresh after the restart = %d %v, want 200 and the same session", code, next)
	}
	if code, _ := r.do(t, "GET", "/api/auth/v2/me", next["access_token"].(string), nil); code != 200 {
		t.Errorf("me with the refreshed token = %d, want 200", code)
	}
	r.login(t, "admin", "first admin password")
	if len(r.logs.lines("first admin created from ADMIN_PASSWORD")) != 0 {
		t.Error("a second admin was created on restart")
	}
}

// TestGeneratedAdminPassword: without ADMIN_PASSWORD the password is
// random and logged once (docs/security.md 6); admin/admin never works.
func TestGeneratedAdminPassword(t *testing.T) {
	env := map[string]string{"LOCAL_DIR": t.TempDir(), "BCRYPT_COST": "10"}
	r := start(t, env)
	lines := r.logs.lines("first admin created with a generated password; it is shown only this once, change it")
	if len(lines) != 1 {
		t.Fatalf("%d generated-password lines, want 1:\n%s", len(lines), r.logs)
	}
	pw := lines[0]["password"].(string)
	if len(pw) < 16 {
		t.Errorf("generated password %d chars, want at least 16", len(pw))
	}
	if code, _ := r.do(t, "POST", "/api/auth/v2/login", "", map[string]string{"username": "admin", "password": "admin"}); code != 401 {
		t.Errorf("admin/admin = %d, want 401", code)
	}
	r.login(t, "admin", pw)
	_ = r.stop()
	r = start(t, env)
	if strings.Contains(r.logs.String(), pw) {
		t.Error("the password was logged again on restart")
	}
}

// TestRealServers: pointed at PostgreSQL and Redis, the runner migrates an
// empty database, and sessions and refresh tokens survive a restart.
func TestRealServers(t *testing.T) {
	_, prefix := testenv.Redis(t)
	env := map[string]string{
		"LOCAL_DIR": t.TempDir(), "DATABASE_URL": testenv.EmptyPostgresURL(t), "REDIS_URL": testenv.DefaultRedisURL,
		"REDIS_KEY_PREFIX": prefix, "ADMIN_USERNAME": "root", "ADMIN_PASSWORD": "first admin password", "BCRYPT_COST": "10",
	}
	r := start(t, env)
	tok := r.login(t, "root", "first admin password")
	_ = r.stop()
	r = start(t, env)
	if code, _ := r.do(t, "GET", "/api/auth/v2/me", tok["access_token"].(string), nil); code != 200 {
		t.Errorf("access token after restart = %d, want 200", code)
	}
	code, next := r.do(t, "POST", "/api/auth/v2/refresh", "", map[string]string{"refresh_token": tok["refresh_token"].(string)})
	if code != 200 || next["session_id"] != tok["session_id"] {
		t.Errorf("refresh after restart = %d %v", code, next)
	}
}

func TestMigrateCommand(t *testing.T) {
	env := map[string]string{"LOCAL_DIR": t.TempDir(), "DATABASE_URL": testenv.EmptyPostgresURL(t), "ADMIN_PASSWORD": "first admin password", "BCRYPT_COST": "10"}
	var out logBuffer
	if err := run(context.Background(), []string{"migrate"}, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out.String())
	}
	if len(out.lines("first admin created from ADMIN_PASSWORD")) != 1 {
		t.Errorf("migrate did not create the first admin:\n%s", out.String())
	}
	// Again: nothing to do, no error.
	if err := run(context.Background(), []string{"migrate"}, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if err := run(context.Background(), []string{"migrate"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("migrate without DATABASE_URL succeeded")
	}
}

func TestBadConfigurationStopsTheStart(t *testing.T) {
	env := map[string]string{"LOCAL_DIR": t.TempDir(), "BCRYPT_COST": "4", "JWT_SECRET": "short", "ACCESS_TOKEN_TTL": "soon",
		"GPUSTACK_API_KEY": "gpustack_key_without_url"}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard)
	if err == nil {
		t.Fatal("started with a bad configuration")
	}
	for _, name := range []string{"BCRYPT_COST", "JWT_SECRET", "ACCESS_TOKEN_TTL", "GPUSTACK_API_KEY"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	if strings.Contains(err.Error(), "short") && !strings.Contains(err.Error(), "JWT_SECRET is 5 bytes") {
		t.Errorf("error may echo the secret: %q", err)
	}
	if err := run(context.Background(), []string{"bogus"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("an unknown command ran")
	}
}

// TestMFAKey: the runner makes MFA_KEY once and keeps it in LOCAL_DIR
// (0600), as it does JWT_SECRET; a start with another key stops with a
// message that names MFA_KEY and not its value, and the kept key starts
// again (docs/security.md 34).
func TestMFAKey(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"LOCAL_DIR": dir, "ADMIN_PASSWORD": "first admin password", "BCRYPT_COST": "10"}
	r := start(t, env)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "mfa-key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mfa-key: %v, mode %v; want a 0600 file", err, fi)
	}
	kept, _ := os.ReadFile(filepath.Join(dir, "mfa-key"))
	if key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(kept))); err != nil || len(key) != 32 {
		t.Fatalf("mfa-key holds %d bytes (%v), want 32 in base64", len(key), err)
	}
	other := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	wrong := map[string]string{"LOCAL_DIR": dir, "BCRYPT_COST": "10", "MFA_KEY": other, "ADDR": "127.0.0.1:0"}
	// Bounded: a runner that (wrongly) starts serves until its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = run(ctx, nil, func(k string) string { return wrong[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "MFA_KEY is not the key") || strings.Contains(err.Error(), other) {
		t.Fatalf("start with another MFA_KEY: %v, want a refusal naming MFA_KEY and not its value", err)
	}
	start(t, env)
}

// TestRoutes: every group registers on one mux without a conflict (which
// would panic) and the runner serves each group's routes.
func TestRoutes(t *testing.T) {
	env := testenv.New(t)
	routes := functions.Routes(env.App)
	for _, want := range []string{"POST /api/auth/v2/login", "GET /api/auth/v2/health", "GET /api/auth/v2/me",
		"GET /api/auth/v2/users", "GET /api/auth/v2/sessions", "POST /api/auth/v2/preferences", "POST /api/auth/v2/cleanup"} {
		found := false
		for _, r := range routes {
			found = found || r == want
		}
		if !found {
			t.Errorf("routes lack %q: %v", want, routes)
		}
	}
}

// TestCleanupTimer: the runner runs cleanup every CLEANUP_INTERVAL, as
// the scheduler does in AWS.
func TestCleanupTimer(t *testing.T) {
	r := start(t, map[string]string{"LOCAL_DIR": t.TempDir(), "ADMIN_PASSWORD": "first admin password", "BCRYPT_COST": "10", "CLEANUP_INTERVAL": "50ms"})
	deadline := time.Now().Add(10 * time.Second)
	for len(r.logs.lines("cleanup")) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no two cleanup runs logged:\n%s", r.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	rec := r.logs.lines("cleanup")[0]
	if rec["complete"] != true {
		t.Errorf("cleanup record %v, want complete", rec)
	}
}

// TestGPUStackFallbackConfigured: GPUSTACK_URL turns the fallback on, end
// to end: a user who exists only in GPUStack signs in to the runner.
func TestGPUStackFallbackConfigured(t *testing.T) {
	gs := gpustacktest.New(t, gpustacktest.Options{Version: "v2.0.1"})
	gs.AddUser("gpu-user", "gpustack password", "From GPUStack", false, true)
	r := start(t, map[string]string{"LOCAL_DIR": t.TempDir(), "ADMIN_PASSWORD": "first admin password", "BCRYPT_COST": "10",
		"GPUSTACK_URL": gs.URL(), "GPUSTACK_TIMEOUT": "2s"})
	tok := r.login(t, "gpu-user", "gpustack password")
	user := tok["user"].(map[string]any)
	if user["source"] != "gpustack" || user["full_name"] != "From GPUStack" {
		t.Errorf("user = %v, want provisioned from GPUStack", user)
	}
	if code, _ := r.do(t, "POST", "/api/auth/v2/login", "", map[string]string{"username": "gpu-user", "password": "wrong password"}); code != 401 {
		t.Errorf("wrong GPUStack password = %d, want 401", code)
	}
}
