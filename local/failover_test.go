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
	"sync"
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
// logs in and is recognised again; in fact GET /me is back within 5 s.
// That needs the client to reload its slot map after connection errors:
// left to itself, go-redis keeps sending that shard's commands to the dead
// master until its periodic reload. The cluster is whole again afterwards
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

	// One user on each master (the users' session keys, {u:<id>}, are
	// hash-tagged by id), so that the failed shard and the healthy ones
	// are all exercised.
	type user struct {
		name, token, master string
		slot                int64
	}
	masters := slotMasters(t, cc)
	var users []*user
	seen := map[string]bool{}
	for i := 0; len(seen) < 3; i++ {
		if i == 12 {
			t.Fatalf("12 users cover only the masters %v; the test needs all three", seen)
		}
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
		if m := masters(slot); !seen[m] {
			seen[m] = true
			u := &user{name: name, slot: slot, master: m}
			u.token = r.login(t, name, "user password 1")["access_token"].(string)
			users = append(users, u)
		}
	}
	victim := users[0]

	// The victim's replica must hold the sessions before its master dies:
	// replication is asynchronous.
	replica := replicaOf(t, cc, victim.slot)
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

	// For each user, one goroutine asks for /me with the session made
	// before the failover and another logs in again, over and over, until
	// told to stop. served(u, kind, t0) is when the first of u's requests of that
	// kind that started at or after t0 was answered 200.
	type span struct{ start, end time.Time }
	var (
		mu                    sync.Mutex
		requests, unavailable int
		slowest               time.Duration
		ok200                 = map[*user]map[string][]span{}
	)
	send := func(u *user, kind, method, path, token string, body any) {
		start := time.Now()
		a := call(method, path, token, body)
		mu.Lock()
		defer mu.Unlock()
		requests++
		slowest = max(slowest, a.took)
		if a.took > 5*time.Second {
			t.Errorf("%s %s took %v during the failover, want at most 5 s", kind, u.name, a.took)
		}
		switch a.code {
		case 200:
			if ok200[u] == nil {
				ok200[u] = map[string][]span{}
			}
			ok200[u][kind] = append(ok200[u][kind], span{start, start.Add(a.took)})
		case 503:
			unavailable++
		default:
			t.Errorf("%s %s = %d during the failover, want 200 or 503", kind, u.name, a.code)
		}
	}
	served := func(u *user, kind string, t0 time.Time) (time.Time, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range ok200[u][kind] {
			if !s.start.Before(t0) {
				return s.end, true
			}
		}
		return time.Time{}, false
	}
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	var (
		traffic sync.WaitGroup
		logins  sync.Mutex
	)
	defer func() {
		stopTraffic()
		traffic.Wait()
	}()
	for _, u := range users {
		traffic.Go(func() {
			for trafficCtx.Err() == nil {
				send(u, "GET /me", "GET", "/api/auth/v2/me", u.token, nil)
				time.Sleep(50 * time.Millisecond)
			}
		})
		traffic.Go(func() {
			for trafficCtx.Err() == nil {
				// One login at a time: under -race on a shared machine,
				// concurrent bcrypt hashes alone would take seconds, and
				// the 5 s bound is about the stores, not the CPU.
				logins.Lock()
				send(u, "login", "POST", "/api/auth/v2/login", "", map[string]string{"username": u.name, "password": "user password 1"})
				logins.Unlock()
				time.Sleep(50 * time.Millisecond)
			}
		})
	}

	for {
		time.Sleep(50 * time.Millisecond)
		if t.Failed() {
			return
		}
		p := promoted.Load()
		if p == 0 {
			if time.Since(shutdown) > 30*time.Second {
				t.Fatalf("the replica %s was not promoted within 30 s", replica)
			}
			continue
		}
		at := time.Unix(0, p)
		all := true
		var last time.Time
		for _, u := range users {
			for _, kind := range []string{"GET /me", "login"} {
				end, ok := served(u, kind, at)
				all = all && ok
				last = later(last, end)
			}
		}
		if all {
			me, _ := served(victim, "GET /me", at)
			login, _ := served(victim, "login", at)
			mu.Lock()
			t.Logf("promoted %v after the shutdown; for %s, GET /me answered 200 again %v after the promotion and login %v; "+
				"every user both %v after; %d requests, %d answered 503, the slowest in %v",
				at.Sub(shutdown).Round(time.Millisecond), victim.name, me.Sub(at).Round(time.Millisecond),
				login.Sub(at).Round(time.Millisecond), last.Sub(at).Round(time.Millisecond),
				requests, unavailable, slowest.Round(time.Millisecond))
			mu.Unlock()
			if last.Sub(at) > 30*time.Second {
				t.Errorf("requests were served again only %v after the promotion, want within 30 s", last.Sub(at))
			}
			// Tighter than the rule: reloading the slot map after errors
			// brings the shard back in about a second, where the periodic
			// reload alone (every 10 s) could take up to ten.
			if me.Sub(at) > 5*time.Second {
				t.Errorf("GET /me for %s answered 200 again only %v after the promotion; the slot map was not reloaded after the errors", victim.name, me.Sub(at))
			}
			return
		}
		if time.Since(at) > 30*time.Second {
			mu.Lock()
			n, failed := requests, unavailable
			mu.Unlock()
			t.Fatalf("30 s after the promotion of %s some users still fail (%d requests, %d answered 503)", replica, n, failed)
		}
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// shardOf returns the online master and replica that serve slot, as the
// node c asks sees them ("" for one it does not know).
func shardOf(ctx context.Context, c interface {
	ClusterShards(context.Context) *redis.ClusterShardsCmd
}, slot int64) (master, replica string, err error) {
	shards, err := c.ClusterShards(ctx).Result()
	if err != nil {
		return "", "", err
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if r.Start <= slot && slot <= r.End {
				for _, n := range sh.Nodes {
					addr := net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10))
					switch {
					case n.Health != "online":
					case n.Role == "master":
						master = addr
					case replica == "":
						replica = addr
					}
				}
				return master, replica, nil
			}
		}
	}
	return "", "", nil
}

// slotMasters returns a function that names the master serving a slot.
func slotMasters(t *testing.T, cc *redis.ClusterClient) func(slot int64) string {
	t.Helper()
	return func(slot int64) string {
		m, _, err := shardOf(context.Background(), cc, slot)
		if err != nil || m == "" {
			t.Fatalf("no master serves slot %d (%v)", slot, err)
		}
		return m
	}
}

// replicaOf returns the address of the replica that serves slot.
func replicaOf(t *testing.T, cc *redis.ClusterClient, slot int64) string {
	t.Helper()
	_, r, err := shardOf(context.Background(), cc, slot)
	if err != nil || r == "" {
		t.Fatalf("slot %d has no replica (%v): start the cluster with scripts/redis-cluster start", slot, err)
	}
	return r
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
// is the master that serves slot.
func ownsSlot(ctx context.Context, c *redis.Client, addr string, slot int64) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	m, _, err := shardOf(ctx, c, slot)
	return err == nil && m == addr
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
