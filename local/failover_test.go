//go:build rediscluster

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"authfn/pkg/testenv"
)

// TestFailoverOnRedisCluster shuts down the master that holds one user's
// sessions while logins and GET /me keep coming for every user
// (docs/security.md 36): every answer comes within 5 s and is 200 or 503,
// and within 30 s of the replica's promotion the user on the failed shard
// logs in and is recognised again. That needs the client to reload its slot
// map after connection errors: left to itself, go-redis keeps sending that
// shard's commands to the dead master. The cluster is whole again afterwards
// (scripts/redis-cluster start restarts the node, which rejoins as a
// replica).
func TestFailoverOnRedisCluster(t *testing.T) {
	c, prefix := testenv.RedisCluster(t)
	cc := c.(*redis.ClusterClient)
	url := os.Getenv("TEST_REDIS_CLUSTER_URL")
	if url == "" {
		url = testenv.DefaultRedisClusterURL
	}
	ctx := context.Background()

	env := map[string]string{
		"LOCAL_DIR": t.TempDir(), "DATABASE_URL": testenv.EmptyPostgresURL(t), "REDIS_URL": url,
		"REDIS_KEY_PREFIX": prefix, "ADMIN_PASSWORD": "first admin password", "BCRYPT_COST": "10",
	}
	r := start(t, env)
	admin := r.login(t, "admin", "first admin password")["access_token"].(string)

	// Users whose session keys ({u:<id>}) land on different masters.
	type user struct {
		name, token, master string
		slot                int64
	}
	masters := slotMasters(t, cc)
	var users []*user
	for i := 0; i < 6; i++ {
		name := fmt.Sprintf("fo%d", i)
		code, body := r.do(t, "POST", "/api/auth/v2/users", admin, map[string]any{"username": name, "password": "user password 1"})
		if code != 201 {
			t.Fatalf("create %s = %d %v", name, code, body)
		}
		id := int64(body["id"].(float64))
		slot, err := cc.ClusterKeySlot(ctx, "{u:"+strconv.FormatInt(id, 10)+"}").Result()
		if err != nil {
			t.Fatal(err)
		}
		u := &user{name: name, slot: slot, master: masters(slot)}
		u.token = r.login(t, name, "user password 1")["access_token"].(string)
		users = append(users, u)
	}
	victim := users[0]
	others := 0
	for _, u := range users[1:] {
		if u.master != victim.master {
			others++
		}
	}
	if others == 0 {
		t.Fatalf("every user's sessions are on %s; the test needs some elsewhere", victim.master)
	}

	// The victim's replica must hold the sessions before its master dies:
	// replication is asynchronous.
	replica := replicaOf(t, cc, victim.master)
	waitInSync(t, victim.master, replica)

	// From here on the cluster must be made whole again, whatever happens.
	_, victimPort, _ := net.SplitHostPort(victim.master)
	t.Cleanup(func() { restoreCluster(t, victimPort) })

	survivor := redis.NewClient(&redis.Options{Addr: replica, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer survivor.Close()
	var promoted atomic.Int64 // unix nanos of the first sight of the replica as master
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		for watchCtx.Err() == nil {
			if ownsSlot(watchCtx, survivor, replica, victim.slot) {
				promoted.Store(time.Now().UnixNano())
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	down := redis.NewClient(&redis.Options{Addr: victim.master})
	_ = down.ShutdownNoSave(ctx).Err() // the connection closes under the reply
	down.Close()
	shutdown := time.Now()
	t.Logf("shut down %s (slot %d of %s); its replica is %s", victim.master, victim.slot, victim.name, replica)

	hc := &http.Client{Timeout: 15 * time.Second}
	type answer struct {
		code int
		took time.Duration
	}
	call := func(method, path, token string, body any) answer {
		var rd *bytes.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, _ := http.NewRequest(method, r.base+path, rd)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		t0 := time.Now()
		resp, err := hc.Do(req)
		took := time.Since(t0)
		if err != nil {
			t.Errorf("%s %s: %v after %v", method, path, err, took)
			return answer{0, took}
		}
		resp.Body.Close()
		return answer{resp.StatusCode, took}
	}

	var (
		requests, unavailable int
		slowest               time.Duration
		recovered             time.Time
		last                  []string
	)
	check := func(what string, a answer) bool {
		code, took := a.code, a.took
		requests++
		slowest = max(slowest, took)
		if took > 5*time.Second {
			t.Errorf("%s took %v during the failover, want at most 5 s", what, took)
		}
		switch code {
		case 200:
			return true
		case 503:
			unavailable++
		default:
			t.Errorf("%s = %d during the failover, want 200 or 503", what, code)
		}
		last = append(last, fmt.Sprintf("%s=%d", what, code))
		return false
	}
	for round := 0; ; round++ {
		last = last[:0]
		allOK := true
		victimOK := false
		for _, u := range users {
			ok := check("GET /me "+u.name, call("GET", "/api/auth/v2/me", u.token, nil))
			ok = check("login "+u.name, call("POST", "/api/auth/v2/login", "", map[string]string{"username": u.name, "password": "user password 1"})) && ok
			if u == victim {
				victimOK = ok
			}
			allOK = allOK && ok
		}
		if t.Failed() {
			return
		}
		p := promoted.Load()
		if p == 0 {
			if time.Since(shutdown) > 30*time.Second {
				t.Fatalf("the replica %s was not promoted within 30 s", replica)
			}
		} else {
			at := time.Unix(0, p)
			if victimOK && recovered.IsZero() {
				recovered = time.Now()
			}
			if allOK && !recovered.IsZero() {
				t.Logf("promoted %v after the shutdown; %s served again %v after the promotion, everyone %v after; "+
					"%d requests, %d answered 503, the slowest in %v",
					at.Sub(shutdown).Round(time.Millisecond), victim.name, recovered.Sub(at).Round(time.Millisecond),
					time.Since(at).Round(time.Millisecond), requests, unavailable, slowest.Round(time.Millisecond))
				break
			}
			if time.Since(at) > 30*time.Second {
				t.Fatalf("30 s after the promotion of %s requests still fail: %s", replica, strings.Join(last, " "))
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// slotMasters returns a function that names the master serving a slot.
func slotMasters(t *testing.T, cc *redis.ClusterClient) func(slot int64) string {
	t.Helper()
	slots, err := cc.ClusterSlots(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return func(slot int64) string {
		for _, s := range slots {
			if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
				return s.Nodes[0].Addr
			}
		}
		t.Fatalf("no master serves slot %d", slot)
		return ""
	}
}

// replicaOf returns the address of the replica of the master at addr.
func replicaOf(t *testing.T, cc *redis.ClusterClient, addr string) string {
	t.Helper()
	slots, err := cc.ClusterSlots(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		if len(s.Nodes) > 1 && s.Nodes[0].Addr == addr {
			return s.Nodes[1].Addr
		}
	}
	t.Fatalf("the master %s has no replica: start the cluster with scripts/redis-cluster start", addr)
	return ""
}

// waitInSync waits until the replica has applied everything the master
// wrote.
func waitInSync(t *testing.T, master, replica string) {
	t.Helper()
	offset := func(addr, field string) string {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		info, err := c.Info(context.Background(), "replication").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, field+":"); ok {
				return v
			}
		}
		return ""
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := offset(master, "master_repl_offset"); m != "" && m == offset(replica, "slave_repl_offset") {
			return
		}
	}
	t.Fatalf("the replica %s did not catch up with %s", replica, master)
}

// ownsSlot reports whether the node at addr, asked directly, says that it
// is a master and serves slot.
func ownsSlot(ctx context.Context, c *redis.Client, addr string, slot int64) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		return false
	}
	for _, s := range slots {
		if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
			return s.Nodes[0].Addr == addr
		}
	}
	return false
}

// restoreCluster brings the shut-down node back through the script that
// made the cluster: it rejoins as a replica, and the cluster has three
// masters with a replica each again for the next run.
func restoreCluster(t *testing.T, port string) {
	base, _ := strconv.Atoi(os.Getenv("REDIS_CLUSTER_PORT"))
	if base == 0 {
		base = 7000
	}
	if p, _ := strconv.Atoi(port); p < base || p > base+5 {
		t.Errorf("node %s is not one of scripts/redis-cluster's (REDIS_CLUSTER_PORT %d): restart it by hand", port, base)
		return
	}
	out, err := exec.Command("../scripts/redis-cluster", "start").CombinedOutput()
	if err != nil {
		t.Errorf("scripts/redis-cluster start: %v\n%s", err, out)
	}
}
