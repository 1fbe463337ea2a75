package embedredis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"authfn/pkg/auth"
	"authfn/pkg/embedredis"
	"authfn/pkg/redisstore"
	"authfn/pkg/testenv"
)

// server is a running embedredis.Server with its log and a client per
// database the test asks for.
type server struct {
	*embedredis.Server
	logs *testenv.Buffer
}

// start starts a server on dir, closed when the test ends. An interval of
// an hour means only Close writes a snapshot.
func start(t *testing.T, dir string, interval time.Duration) server {
	t.Helper()
	logs := &testenv.Buffer{}
	s, err := embedredis.Start(t.Context(), embedredis.Options{
		Dir: dir, Interval: interval, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return server{s, logs}
}

func (s server) client(t *testing.T, db int) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DB: db})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (s server) close(t *testing.T) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// logLines returns the log records whose message contains msg.
func (s server) logLines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(s.logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m, _ := rec["msg"].(string); strings.Contains(m, msg) {
			out = append(out, rec)
		}
	}
	return out
}

// near fails unless got is within a second below want: a TTL after a
// restart has lost only the moments the test took.
func near(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if got > want || got < want-time.Second {
		t.Errorf("%s: TTL %v, want %v (within a second below)", what, got, want)
	}
}

// TestRestartKeepsEveryType: every type the service stores (and lists and
// sets), in database 0 and another, comes back after Close and Start with
// its value and its remaining TTL; keys without a TTL still have none.
func TestRestartKeepsEveryType(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := start(t, dir, time.Hour)
	c, c3 := s.client(t, 0), s.client(t, 3)
	binary := "bin\x00\xff\xfe value"
	must(t, c.Set(ctx, "str", binary, 0).Err())
	must(t, c.Set(ctx, "str:ttl", "v", 90*time.Second).Err())
	must(t, c.Set(ctx, "str:empty", "", 0).Err())
	must(t, c.HSet(ctx, "hash", "uid", "7", "rh", "\x01\x02", "seen", "1700000000123456").Err())
	must(t, c.Expire(ctx, "hash", time.Hour).Err())
	must(t, c.HExpire(ctx, "hash", 30*time.Minute, "seen").Err())
	zs := []redis.Z{{Score: 1700000000123456, Member: "m"}, {Score: 0.1, Member: "n"}, {Score: 1.0 / 3, Member: "third"},
		{Score: math.Inf(1), Member: "top"}, {Score: math.Inf(-1), Member: "bottom"}}
	must(t, c.ZAdd(ctx, "zset", zs...).Err())
	must(t, c.PExpire(ctx, "zset", 20*time.Minute).Err())
	must(t, c.SAdd(ctx, "set", "x", "y", "z").Err())
	must(t, c.RPush(ctx, "list", "1", "2", "1").Err())
	must(t, c3.Set(ctx, "other-db", "x", 45*time.Second).Err())
	s.close(t)
	stopped := time.Now()

	s = start(t, dir, time.Hour)
	c, c3 = s.client(t, 0), s.client(t, 3)
	since := time.Since(stopped)
	if got := c.Get(ctx, "str").Val(); got != binary {
		t.Errorf("str = %q, want %q", got, binary)
	}
	if got, err := c.Get(ctx, "str:empty").Result(); err != nil || got != "" {
		t.Errorf("str:empty = %q, %v", got, err)
	}
	if got := c.Get(ctx, "str:ttl").Val(); got != "v" {
		t.Errorf("str:ttl = %q", got)
	}
	near(t, "str:ttl", c.PTTL(ctx, "str:ttl").Val(), 90*time.Second-since)
	if got := c.PTTL(ctx, "str").Val(); got != -1 {
		t.Errorf("str TTL %v, want none (-1)", got)
	}
	if got := c.HGetAll(ctx, "hash").Val(); len(got) != 3 || got["uid"] != "7" || got["rh"] != "\x01\x02" || got["seen"] != "1700000000123456" {
		t.Errorf("hash = %q", got)
	}
	near(t, "hash", c.PTTL(ctx, "hash").Val(), time.Hour-since)
	if f := c.HPTTL(ctx, "hash", "seen", "uid").Val(); len(f) != 2 || f[1] != -1 {
		t.Errorf("hash field TTLs %v, want seen's and none for uid", f)
	} else {
		near(t, "hash field seen", time.Duration(f[0])*time.Millisecond, 30*time.Minute-since)
	}
	got := c.ZRangeWithScores(ctx, "zset", 0, -1).Val()
	want := slices.Clone(zs)
	slices.SortFunc(want, func(a, b redis.Z) int { return cmpFloat(a.Score, b.Score) })
	if !slices.Equal(got, want) {
		t.Errorf("zset = %v, want %v", got, want)
	}
	near(t, "zset", c.PTTL(ctx, "zset").Val(), 20*time.Minute-since)
	members := c.SMembers(ctx, "set").Val()
	if slices.Sort(members); !slices.Equal(members, []string{"x", "y", "z"}) {
		t.Errorf("set = %v", members)
	}
	if got := c.LRange(ctx, "list", 0, -1).Val(); !slices.Equal(got, []string{"1", "2", "1"}) {
		t.Errorf("list = %v", got)
	}
	if got := c3.Get(ctx, "other-db").Val(); got != "x" {
		t.Errorf("db 3 other-db = %q", got)
	}
	near(t, "other-db", c3.PTTL(ctx, "other-db").Val(), 45*time.Second-since)
	if n := c.DBSize(ctx).Val(); n != 7 {
		t.Errorf("db 0 holds %d keys, want 7", n)
	}
	if len(s.logLines(t, "restored the snapshot")) != 1 {
		t.Errorf("no restore logged:\n%s", s.logs)
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestExpiredWhileStopped: the time the runner is stopped counts, as on a
// real Redis: a key (or hash field) whose TTL ran out meanwhile is not
// restored, and the others are.
func TestExpiredWhileStopped(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := start(t, dir, time.Hour)
	c := s.client(t, 0)
	must(t, c.Set(ctx, "short", "v", 300*time.Millisecond).Err())
	must(t, c.Set(ctx, "long", "v", time.Hour).Err())
	must(t, c.HSet(ctx, "h", "keep", "1", "drop", "2").Err())
	// miniredis has HEXPIRE (seconds) but not HPEXPIRE.
	must(t, c.HExpire(ctx, "h", time.Second, "drop").Err())
	must(t, c.HSet(ctx, "gone", "f", "1").Err())
	must(t, c.HExpire(ctx, "gone", time.Second, "f").Err())
	s.close(t)
	time.Sleep(1100 * time.Millisecond)

	s = start(t, dir, time.Hour)
	c = s.client(t, 0)
	if n := c.Exists(ctx, "short").Val(); n != 0 {
		t.Error("a key whose TTL passed while stopped was restored")
	}
	if n := c.Exists(ctx, "gone").Val(); n != 0 {
		t.Error("a hash whose every field expired while stopped was restored")
	}
	if got := c.HGetAll(ctx, "h").Val(); len(got) != 1 || got["keep"] != "1" {
		t.Errorf("h = %v, want only keep", got)
	}
	if c.Get(ctx, "long").Val() != "v" {
		t.Error("a live key was not restored")
	}
	if l := s.logLines(t, "restored the snapshot"); len(l) != 1 || l[0]["keys"] != 2.0 || l[0]["expired_while_stopped"] != 2.0 {
		t.Errorf("restore log %v, want 2 keys restored and 2 expired", l)
	}
}

// TestClockIsWallTime: keys expire on wall time while the server runs,
// without anyone moving miniredis's clock, and PEXPIREAT agrees with it.
func TestClockIsWallTime(t *testing.T) {
	ctx := t.Context()
	s := start(t, t.TempDir(), time.Hour)
	c := s.client(t, 0)
	must(t, c.Set(ctx, "px", "v", 200*time.Millisecond).Err())
	must(t, c.Set(ctx, "at", "v", 0).Err())
	must(t, c.PExpireAt(ctx, "at", time.Now().Add(200*time.Millisecond)).Err())
	must(t, c.Set(ctx, "stays", "v", time.Minute).Err())
	if srv := c.Time(ctx).Val(); time.Until(srv).Abs() > time.Second {
		t.Errorf("server TIME %v, wall %v", srv, time.Now())
	}
	time.Sleep(350 * time.Millisecond)
	if n := c.Exists(ctx, "px", "at").Val(); n != 0 {
		t.Errorf("%d keys outlived their TTL", n)
	}
	if n := c.Exists(ctx, "stays").Val(); n != 1 {
		t.Error("a live key expired")
	}
}

// TestPeriodicSnapshot: without Close (a crash), the data of one interval
// ago is on disk: a copy of the directory taken while the server still
// runs restores it.
func TestPeriodicSnapshot(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := start(t, dir, 50*time.Millisecond)
	must(t, s.client(t, 0).Set(ctx, "k", "before the crash", time.Hour).Err())
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, embedredis.SnapshotName))
		if err == nil {
			copyDir := t.TempDir()
			must(t, os.WriteFile(filepath.Join(copyDir, embedredis.SnapshotName), b, 0o600))
			r := start(t, copyDir, time.Hour)
			got := r.client(t, 0).Get(ctx, "k").Val()
			r.close(t)
			if got == "before the crash" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot holding the key after 5s of a 50ms interval (last read: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUnusableSnapshot: a snapshot that is not JSON, is truncated, holds
// nonsense or comes from another format version does not stop the start:
// the server starts empty, warns, and keeps the file aside unchanged; the
// next Close writes a good snapshot again.
func TestUnusableSnapshot(t *testing.T) {
	truncated := func(t *testing.T) []byte {
		dir := t.TempDir()
		s := start(t, dir, time.Hour)
		must(t, s.client(t, 0).Set(t.Context(), "k", strings.Repeat("v", 100), 0).Err())
		s.close(t)
		b, err := os.ReadFile(filepath.Join(dir, embedredis.SnapshotName))
		must(t, err)
		return b[:len(b)/2]
	}
	for _, tc := range []struct {
		name string
		file func(t *testing.T) []byte
	}{
		{"garbage", func(*testing.T) []byte { return []byte("\x00\x01 not a snapshot") }},
		{"truncated", truncated},
		{"newer version", func(*testing.T) []byte {
			return []byte(`{"format":"authfn-embedredis-snapshot","version":2,"dbs":[]}`)
		}},
		{"other format", func(*testing.T) []byte { return []byte(`{"format":"rdb","version":1}`) }},
		{"bad score", func(*testing.T) []byte {
			return []byte(`{"format":"authfn-embedredis-snapshot","version":1,"dbs":[{"db":0,"keys":[` +
				`{"key":"aw==","type":"zset","zset":[{"member":"bQ==","score":"many"}]}]}]}`)
		}},
		{"unknown type", func(*testing.T) []byte {
			return []byte(`{"format":"authfn-embedredis-snapshot","version":1,"dbs":[{"db":0,"keys":[{"key":"aw==","type":"blob"}]}]}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, embedredis.SnapshotName)
			content := tc.file(t)
			must(t, os.WriteFile(path, content, 0o600))
			s := start(t, dir, time.Hour)
			c := s.client(t, 0)
			if n := c.DBSize(t.Context()).Val(); n != 0 {
				t.Errorf("started with %d keys, want empty", n)
			}
			warn := s.logLines(t, "cannot be used")
			if len(warn) != 1 || warn[0]["level"] != "WARN" {
				t.Fatalf("warnings %v, want one:\n%s", warn, s.logs)
			}
			aside, _ := warn[0]["moved_to"].(string)
			if !strings.HasPrefix(aside, path+".corrupt-") {
				t.Errorf("moved to %q, want %s.corrupt-<time>", aside, path)
			}
			if b, err := os.ReadFile(aside); err != nil || string(b) != string(content) {
				t.Errorf("the file aside holds %q (%v), want the original", b, err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the unusable snapshot is still in place: %v", err)
			}
			must(t, c.Set(t.Context(), "new", "v", 0).Err())
			s.close(t)
			if got := start(t, dir, time.Hour).client(t, 0).Get(t.Context(), "new").Val(); got != "v" {
				t.Errorf("after recovery, new = %q", got)
			}
		})
	}
}

// TestSnapshotFile: the snapshot is mode 0600 (it holds refresh-token
// hashes) even where an older file was not, the directory is made 0700,
// and no temporary file is left behind.
func TestSnapshotFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "local")
	s := start(t, dir, time.Hour)
	must(t, s.client(t, 0).Set(t.Context(), "k", "v", 0).Err())
	s.close(t)
	path := filepath.Join(dir, embedredis.SnapshotName)
	check := func() {
		t.Helper()
		fi, err := os.Stat(path)
		must(t, err)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("snapshot mode %v, want 0600", fi.Mode().Perm())
		}
		entries, err := os.ReadDir(dir)
		must(t, err)
		if len(entries) != 1 {
			t.Errorf("directory holds %v, want the snapshot only", entries)
		}
	}
	check()
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	must(t, os.Chmod(path, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "."+embedredis.SnapshotName+"-123.tmp"), []byte("half"), 0o600))
	start(t, dir, time.Hour).close(t)
	check()
}

// TestScriptsAfterRestart: script state is not kept, as on a real Redis,
// and go-redis's Script.Run recovers (EVALSHA, NOSCRIPT, EVAL).
func TestScriptsAfterRestart(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	incr := redis.NewScript(`return redis.call('INCR', KEYS[1])`)
	s := start(t, dir, time.Hour)
	if n, err := incr.Run(ctx, s.client(t, 0), []string{"n"}).Int(); err != nil || n != 1 {
		t.Fatalf("first run = %d, %v", n, err)
	}
	s.close(t)
	s = start(t, dir, time.Hour)
	c := s.client(t, 0)
	if ex := c.ScriptExists(ctx, incr.Hash()).Val(); len(ex) != 1 || ex[0] {
		t.Fatalf("SCRIPT EXISTS after restart = %v, want [false]", ex)
	}
	if n, err := incr.Run(ctx, c, []string{"n"}).Int(); err != nil || n != 2 {
		t.Fatalf("run after restart = %d, %v; want 2", n, err)
	}
}

// TestSessionsSurviveRestart: the real session store on the embedded
// server: a session created before a restart is found, touched and
// rotated after it, and after a second restart its rotated token is still
// recognised as reuse (the refresh history survived too).
func TestSessionsSurviveRestart(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	opts := redisstore.Options{Prefix: "authfn:"}
	now := time.Now()
	sess := auth.Session{ID: "s1", UserID: 7, Username: "alice", CreatedAt: now,
		ExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(24 * time.Hour), IP: "127.0.0.1", UserAgent: "test"}

	s := start(t, dir, time.Hour)
	st := redisstore.New(s.client(t, 0), opts)
	must(t, st.CreateSession(ctx, sess, "refresh-1"))
	s.close(t)

	s = start(t, dir, time.Hour)
	st = redisstore.New(s.client(t, 0), opts)
	got, err := st.TouchSession(ctx, 7, "s1", time.Now())
	if err != nil || got.Username != "alice" || got.IP != "127.0.0.1" || !got.CreatedAt.Equal(now.Truncate(time.Microsecond)) {
		t.Fatalf("TouchSession after restart = %+v, %v", got, err)
	}
	rot := auth.Rotation{UserID: 7, SessionID: "s1", PresentedHash: "refresh-1", NewHash: "refresh-2",
		Now: time.Now(), Grace: time.Millisecond, IdleTTL: time.Hour}
	if got, err = st.RotateRefresh(ctx, rot); err != nil || got.ID != "s1" {
		t.Fatalf("RotateRefresh after restart = %+v, %v", got, err)
	}
	if list, err := st.UserSessions(ctx, 7, time.Now()); err != nil || len(list) != 1 {
		t.Errorf("UserSessions after restart = %v, %v", list, err)
	}
	s.close(t)

	s = start(t, dir, time.Hour)
	st = redisstore.New(s.client(t, 0), opts)
	rot.Now = time.Now()
	if _, err := st.RotateRefresh(ctx, rot); !errors.Is(err, auth.ErrTokenReused) {
		t.Fatalf("rotated token presented again after restart: %v, want ErrTokenReused", err)
	}
	if _, err := st.TouchSession(ctx, 7, "s1", time.Now()); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("session after reuse: %v, want ErrNotFound", err)
	}
}

// TestStartNeedsDir: without a directory there is nowhere to persist.
func TestStartNeedsDir(t *testing.T) {
	_, err := embedredis.Start(context.Background(), embedredis.Options{})
	if auth.ErrorCode(err) != auth.CodeInvalidRequest {
		t.Fatalf("Start without Dir: %v, want %s", err, auth.CodeInvalidRequest)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestCloseAfterCancel: the local runner cancels its context on SIGTERM
// before it closes its stores; the final snapshot is written all the same.
func TestCloseAfterCancel(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	s, err := embedredis.Start(ctx, embedredis.Options{Dir: dir, Interval: time.Hour})
	must(t, err)
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	must(t, c.Set(ctx, "k", "v", 0).Err())
	_ = c.Close()
	cancel()
	must(t, s.Close())
	if got := start(t, dir, time.Hour).client(t, 0).Get(t.Context(), "k").Val(); got != "v" {
		t.Fatalf("after a cancelled context, k = %q, want v", got)
	}
}

// TestSnapshotIsOnePointInTime: while a script keeps two keys equal (as
// redisstore's scripts keep a session and its indexes together), every
// periodic snapshot restores them equal: none is taken half-way.
func TestSnapshotIsOnePointInTime(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := start(t, dir, 5*time.Millisecond)
	c := s.client(t, 0)
	pair := redis.NewScript(`
for i = 1, 50 do redis.call('SET', 'k' .. i, ARGV[1]) end
return 1`)
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for n := 0; ; n++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := pair.Run(ctx, c, nil, n).Err(); err != nil {
				done <- err
				return
			}
		}
	}()
	defer func() {
		close(stop)
		must(t, <-done)
	}()
	restored := map[string]bool{}
	for deadline := time.Now().Add(3 * time.Second); len(restored) < 5 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		b, err := os.ReadFile(filepath.Join(dir, embedredis.SnapshotName))
		if err != nil {
			continue
		}
		copyDir := t.TempDir()
		must(t, os.WriteFile(filepath.Join(copyDir, embedredis.SnapshotName), b, 0o600))
		r := start(t, copyDir, time.Hour)
		vals := r.client(t, 0).MGet(ctx, "k1", "k25", "k50").Val()
		r.close(t)
		if vals[0] != vals[1] || vals[1] != vals[2] {
			t.Fatalf("a snapshot caught a script half-way: %v", vals)
		}
		restored[fmt.Sprint(vals[0])] = true
	}
	if len(restored) < 2 {
		t.Fatalf("only %d distinct snapshots seen", len(restored))
	}
}
