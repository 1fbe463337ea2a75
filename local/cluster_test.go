//go:build rediscluster

package main

import (
	"fmt"
	"os"
	"testing"

	"authfn/pkg/testenv"
)

// TestOnRedisCluster runs the whole service on a Redis Cluster: logins,
// refresh, the admin-wide session index (sharded across slots), revocation
// and cleanup. The cluster refuses any command that crosses slots, so this
// fails if a key lost its hash tag.
func TestOnRedisCluster(t *testing.T) {
	_, prefix := testenv.RedisCluster(t)
	url := os.Getenv("TEST_REDIS_CLUSTER_URL")
	if url == "" {
		url = testenv.DefaultRedisClusterURL
	}
	env := map[string]string{
		"LOCAL_DIR": t.TempDir(), "DATABASE_URL": testenv.EmptyPostgresURL(t), "REDIS_URL": url,
		"REDIS_KEY_PREFIX": prefix, "ADMIN_PASSWORD": "first admin password", "BCRYPT_COST": "10",
	}
	r := start(t, env)
	admin := r.login(t, "admin", "first admin password")["access_token"].(string)
	for i := 0; i < 6; i++ {
		name := fmt.Sprintf("user%d", i)
		if code, body := r.do(t, "POST", "/api/auth/v2/users", admin, map[string]any{"username": name, "password": "user password 1"}); code != 201 {
			t.Fatalf("create %s = %d %v", name, code, body)
		}
		r.login(t, name, "user password 1")
	}
	pair := r.login(t, "user0", "user password 1")
	code, next := r.do(t, "POST", "/api/auth/v2/refresh", "", map[string]string{"refresh_token": pair["refresh_token"].(string)})
	if code != 200 {
		t.Fatalf("refresh = %d %v", code, next)
	}
	if code, _ := r.do(t, "POST", "/api/auth/v2/refresh", "", map[string]string{"refresh_token": pair["refresh_token"].(string)}); code != 409 {
		t.Errorf("second refresh within the grace period = %d, want 409", code)
	}
	seen := 0
	cursor := ""
	for pages := 0; pages < 20; pages++ {
		path := "/api/auth/v2/sessions?limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		code, page := r.do(t, "GET", path, admin, nil)
		if code != 200 {
			t.Fatalf("GET %s = %d %v", path, code, page)
		}
		seen += len(page["sessions"].([]any))
		stats := page["stats"].(map[string]any)
		if stats["active_sessions"].(float64) != 8 || stats["active_users"].(float64) != 7 {
			t.Errorf("stats = %v, want 8 sessions of 7 users", stats)
		}
		c, _ := page["next_cursor"].(string)
		if c == "" {
			break
		}
		cursor = c
	}
	if seen != 8 {
		t.Errorf("walked %d sessions, want 8", seen)
	}
	if code, body := r.do(t, "DELETE", "/api/auth/v2/sessions/2", admin, nil); code != 200 || body["revoked"].(float64) != 2 {
		t.Errorf("revoke user0's sessions = %d %v, want 2 revoked", code, body)
	}
	if code, _ := r.do(t, "GET", "/api/auth/v2/me", next["access_token"].(string), nil); code != 401 {
		t.Errorf("a revoked session's token = %d, want 401", code)
	}
	if code, body := r.do(t, "POST", "/api/auth/v2/cleanup", admin, nil); code != 200 || body["complete"] != true {
		t.Errorf("cleanup = %d %v", code, body)
	}
	if code, body := r.do(t, "POST", "/api/auth/v2/logout", admin, map[string]bool{"all": true}); code != 200 || body["revoked"].(float64) != 1 {
		t.Errorf("logout = %d %v", code, body)
	}
}
