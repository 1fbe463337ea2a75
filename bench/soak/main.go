// Command soak holds the local runner under a mixed load for a while and
// fails if it answers 5xx, if its memory grows, or if Redis keeps what the
// load put there once every session has ended. scripts/soak starts the
// runner on a database and a Redis prefix of its own and calls this; the
// rules are in docs/architecture.md ("Soak").
//
// Phases: setup (the test users, one login of each from its own address,
// ended again, a cleanup, the admin logged out: then the Redis baseline),
// a warm-up login or two per user, a closed-loop burst that measures the
// peak, the open-loop load at a share of that peak in slices (a table row
// each, POST /cleanup at each boundary), and the end (every session
// logged out or revoked, cleanup until complete, the admin logged out,
// Redis compared with the baseline).
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

type options struct {
	base, redisURL, prefix   string
	adminUser, adminPassword string
	pid                      int
	duration, slice, burst   time.Duration
	users, perUser, workers  int
	warm, maxInFlight, leak  int
	share                    float64
	limits                   Limits
}

func parse(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.StringVar(&o.base, "base", "", "the service's base URL, http://127.0.0.1:PORT/api/auth/v2 (required)")
	fs.IntVar(&o.pid, "pid", 0, "the runner's process id, for its RSS (required)")
	fs.StringVar(&o.redisURL, "redis", "redis://127.0.0.1:6379/0", "the Redis the runner uses")
	fs.StringVar(&o.prefix, "prefix", "", "the runner's REDIS_KEY_PREFIX (required)")
	fs.StringVar(&o.adminUser, "admin", "admin", "the first admin's username")
	fs.StringVar(&o.adminPassword, "admin-password", "", "the first admin's password (required)")
	fs.DurationVar(&o.duration, "duration", 10*time.Minute, "how long the open-loop load runs")
	fs.DurationVar(&o.slice, "slice", 0, "one table row per slice (0: a minute, or a sixth of -duration if shorter)")
	fs.DurationVar(&o.burst, "burst", 5*time.Second, "the closed-loop burst that measures the peak")
	fs.IntVar(&o.workers, "burst-workers", 16, "concurrent requests in the burst")
	fs.Float64Var(&o.share, "load", 0.8, "the open-loop rate as a share of the measured peak")
	fs.IntVar(&o.users, "users", 50, "test users, each logging in from its own loopback address")
	fs.IntVar(&o.perUser, "sessions-per-user", 20, "sessions the load holds per user at most (the service's cap is 100)")
	fs.IntVar(&o.warm, "warm", 2, "logins per user before the burst, so reads have sessions to use")
	fs.IntVar(&o.maxInFlight, "max-in-flight", 512, "open requests at most; a request due beyond that is skipped and reported")
	fs.Float64Var(&o.limits.RSSGrowth, "rss-growth", 0.20, "the share the runner's RSS may grow over its value at the end of the first slice")
	fs.Int64Var(&o.limits.RedisSlack, "redis-slack", 1024, "bytes the run's Redis keys may exceed the baseline by at the end")
	fs.IntVar(&o.leak, "leak-sessions", 0, "leave this many sessions alive at the end: a deliberate leak, to see the Redis check fail")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var missing []string
	for name, empty := range map[string]bool{"-base": o.base == "", "-pid": o.pid <= 0, "-prefix": o.prefix == "", "-admin-password": o.adminPassword == ""} {
		if empty {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return o, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	if o.slice <= 0 {
		o.slice = min(time.Minute, o.duration/6)
	}
	switch {
	case o.duration < 2*o.slice:
		return o, fmt.Errorf("-duration %s is shorter than two slices of %s: the RSS rule compares later slices with the first", o.duration, o.slice)
	case o.users < 1 || o.users > 200:
		return o, errors.New("-users must be 1-200 (one loopback address each)")
	case o.perUser < 1 || o.perUser > 100:
		return o, errors.New("-sessions-per-user must be 1-100")
	case o.share <= 0 || o.share > 1:
		return o, errors.New("-load must be in (0, 1]")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parse(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Every phase is bounded; this bounds them all, whatever hangs.
	ctx, cancel := context.WithTimeout(ctx, o.duration+5*time.Minute)
	defer cancel()

	ropts, err := redis.ParseURL(o.redisURL)
	if err != nil {
		return fmt.Errorf("-redis: %w", err)
	}
	rc := redis.NewClient(ropts)
	defer rc.Close()
	probe := newRedisProbe(rc, o.prefix)

	g := &gen{
		api:         &api{base: strings.TrimSuffix(o.base, "/")},
		adminClient: newClient(nil),
		perUser:     o.perUser,
		rnd:         rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
	fmt.Fprintf(stdout, "soak: %s open-loop at %.0f %% of the peak, %s slices; %d users, up to %d sessions each\n",
		o.duration, o.share*100, o.slice, o.users, o.perUser)
	fmt.Fprintf(stdout, "mix: %s; POST /cleanup at each slice's end\n", mixLine())

	// Setup, then the baseline.
	t0 := time.Now()
	if err := g.loginAdmin(ctx, o.adminUser, o.adminPassword); err != nil {
		return err
	}
	if err := g.createUsers(ctx, o.users, loopbackV4(o.base)); err != nil {
		return err
	}
	if err := g.prime(ctx); err != nil {
		return err
	}
	if err := g.logoutAdmin(ctx); err != nil {
		return err
	}
	baseline, err := probe.state(ctx, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "baseline: %d Redis keys of the run, %d bytes (no session: every user and the admin logged in once and out again, cleanup run; setup took %s)\n",
		baseline.Keys, baseline.Bytes, time.Since(t0).Round(100*time.Millisecond))
	if err := g.loginAdmin(ctx, o.adminUser, o.adminPassword); err != nil {
		return err
	}

	// Warm-up and the peak.
	if err := g.warmUp(ctx, o.warm); err != nil {
		return err
	}
	peak := g.burst(ctx, o.workers, o.burst)
	burst := g.take()
	rate := peak * o.share
	fmt.Fprintf(stdout, "peak: %.0f req/s over a %s closed-loop burst of %d workers (p99 %.1f ms, %d 5xx, %d other); load: %.0f req/s\n",
		peak, o.burst, o.workers, ms(burst.P99()), burst.Status5xx, burst.Status429+burst.Unexpected, rate)
	if rate < 1 {
		return fmt.Errorf("the measured peak (%.1f req/s) is too low to run at", peak)
	}

	// The load, a row per slice.
	fmt.Fprintf(stdout, "%5s %7s %8s %5s %5s %6s %6s %8s %7s %6s %9s %9s %5s\n",
		"slice", "end", "requests", "5xx", "429", "other", "skip", "p99 ms", "RSS MB", "keys", "run KiB", "redis MB", "load")
	var (
		mu    sync.Mutex
		rows  []Slice
		probs []string
	)
	started := time.Now()
	busy, idle := g.openLoop(ctx, rate, o.duration, o.slice, o.maxInFlight, func(i int, last bool) {
		row := Slice{Name: fmt.Sprint(i), Tally: g.take(), Skipped: g.skipped.Swap(0)}
		var (
			errs []string
			err  error
		)
		if row.RSS, err = rss(o.pid); err != nil {
			errs = append(errs, err.Error())
		}
		if row.Redis, err = probe.state(ctx, false); err != nil {
			errs = append(errs, err.Error())
		}
		if row.UsedMemory, err = probe.usedMemory(ctx); err != nil {
			errs = append(errs, err.Error())
		}
		if row.LoadAvg, err = loadAvg(); err != nil {
			errs = append(errs, err.Error())
		}
		fmt.Fprintf(stdout, "%5s %7s %8d %5d %5d %6d %6d %8.1f %7.1f %6d %9.1f %9.1f %5.1f\n",
			row.Name, time.Since(started).Round(time.Second), row.Tally.Requests, row.Tally.Status5xx,
			row.Tally.Status429, row.Tally.Unexpected, row.Skipped, ms(row.Tally.P99()), mb(row.RSS),
			row.Redis.Keys, float64(row.Redis.Bytes)/1024, mb(row.UsedMemory), row.LoadAvg)
		mu.Lock()
		rows = append(rows, row)
		probs = append(probs, errs...)
		mu.Unlock()
		if !last {
			g.cleanup(ctx)
		}
	})
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	if len(probs) > 0 {
		return fmt.Errorf("could not measure: %s", strings.Join(probs, "; "))
	}
	if busy+idle > 0 {
		fmt.Fprintf(stdout, "skipped: %d requests were due while %d were open, %d found every session or user they could use in use\n",
			busy, o.maxInFlight, idle)
	}

	// The end: every session ended, cleanup, Redis against the baseline.
	t0 = time.Now()
	lost, err := g.end(ctx, o.leak)
	if err != nil {
		return err
	}
	final, err := probe.state(ctx, true)
	if err != nil {
		return err
	}
	ended := "every session"
	if o.leak > 0 {
		ended = fmt.Sprintf("every session but %d left alive on purpose (-leak-sessions)", o.leak)
	}
	fmt.Fprintf(stdout, "end: %s logged out or revoked (%d of them revoked: the load had lost track of them), cleanup complete, the admin logged out, in %s; %d Redis keys of the run, %d bytes\n",
		ended, lost, time.Since(t0).Round(100*time.Millisecond), final.Keys, final.Bytes)

	ops := g.operations()
	fmt.Fprintf(stdout, "by operation, whole run: %s\n", strings.Join(func() []string {
		var out []string
		for _, k := range slices.Sorted(maps.Keys(ops)) {
			out = append(out, fmt.Sprintf("%s %d (p99 %.1f ms)", k, ops[k].Requests, ms(ops[k].P99())))
		}
		return out
	}(), ", "))

	res := Result{Phases: []Tally{burst, g.take()}, Slices: rows, Baseline: baseline, Final: final}
	if fails := Check(res, o.limits); len(fails) > 0 {
		return fmt.Errorf("FAIL:\n  %s%s", strings.Join(fails, "\n  "), overloadHint(rows))
	}
	fmt.Fprintln(stdout, "soak: PASS: no 5xx, no unexpected answer, RSS within", fmt.Sprintf("%+.0f %%", o.limits.RSSGrowth*100),
		"of the first slice, Redis back to its baseline")
	return nil
}

// overloadHint explains a failing run whose load the machine could not
// carry: 503s are then the service shedding work, not a fault in it, but
// the run still fails, since the peak it measured did not hold.
func overloadHint(rows []Slice) string {
	var skipped int64
	load := 0.0
	for _, r := range rows {
		skipped += r.Skipped
		load = max(load, r.LoadAvg)
	}
	cores := runtime.NumCPU()
	if skipped == 0 && load <= float64(2*cores) {
		return ""
	}
	return fmt.Sprintf("\n(the machine was short of CPU or disk for this load: %d requests skipped, load average up to %.1f on %d cores; "+
		"other work on the machine moves the peak, so run again when it is quiet)", skipped, load, cores)
}

// loginAdmin logs the admin in from the default address.
func (g *gen) loginAdmin(ctx context.Context, name, password string) error {
	var p tokenPair
	st, err := g.api.call(ctx, g.adminClient, http.MethodPost, "/login", "",
		map[string]string{"username": name, "password": password}, &p)
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("admin login: status %d: %v", st, err)
	}
	s := &session{}
	s.set(p, time.Now())
	g.admin.Store(s)
	g.adminName, g.adminPassword = name, password
	return nil
}

// createUsers creates n test users through the admin API, each with an
// HTTP client on its own loopback address when spread is set.
func (g *gen) createUsers(ctx context.Context, n int, spread bool) error {
	g.users = make([]*user, n)
	for i := range n {
		u := &user{name: fmt.Sprintf("soak-%03d", i), password: fmt.Sprintf("soak-password-%03d", i)}
		var local net.IP
		if spread {
			local = net.IPv4(127, 0, 0, byte(2+i))
		}
		u.client = newClient(local)
		g.users[i] = u
	}
	return forEach(ctx, g.users, func(u *user) error {
		var created struct {
			ID int64 `json:"id"`
		}
		st, err := g.api.call(ctx, g.adminClient, http.MethodPost, "/users", g.admin.Load().access,
			map[string]string{"username": u.name, "password": u.password, "full_name": "Soak " + u.name}, &created)
		if err != nil || st != http.StatusCreated {
			return fmt.Errorf("create %s: status %d: %v", u.name, st, err)
		}
		u.id = created.ID
		return nil
	})
}

// prime logs every user in once and revokes it again, then runs cleanup
// until it is complete. With the admin logged out after it, Redis holds
// what stays once no session is left: the throttle's per-address counts,
// which a successful login leaves at zero until LOGIN_FAILURE_WINDOW
// passes. That is the baseline the end must return to.
func (g *gen) prime(ctx context.Context) error {
	err := forEach(ctx, g.users, func(u *user) error {
		var p tokenPair
		st, err := g.api.call(ctx, u.client, http.MethodPost, "/login", "",
			map[string]string{"username": u.name, "password": u.password}, &p)
		if err != nil || st != http.StatusOK {
			return fmt.Errorf("login %s: status %d: %v", u.name, st, err)
		}
		if n, err := g.revoke(ctx, u); err != nil || n != 1 {
			return fmt.Errorf("revoke %s: %d revoked: %v", u.name, n, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return g.cleanupComplete(ctx)
}

// warmUp logs every user in n times, through the counted path, one
// login per user at a time.
func (g *gen) warmUp(ctx context.Context, n int) error {
	for range n {
		round := make([]op, len(g.users))
		g.mu.Lock()
		for i, u := range g.users {
			u.live++
			u.loggingIn = true
			round[i] = op{kind: kindLogin, u: u}
		}
		g.mu.Unlock()
		if err := forEach(ctx, round, func(o op) error {
			g.run(ctx, o, time.Now())
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// end stops the load's sessions: it logs out every session it holds, but
// leak of them, then revokes what each user still has through the admin
// API (the users of the leaked sessions spared), runs cleanup until
// complete and logs the admin out. It returns how many sessions the
// revocation found.
func (g *gen) end(ctx context.Context, leak int) (int, error) {
	g.mu.Lock()
	spared := map[*user]bool{}
	for leak > 0 && len(g.free) > 0 {
		spared[g.takeFree().user] = true
		leak--
	}
	var out []op
	for s := g.takeFree(); s != nil; s = g.takeFree() {
		out = append(out, op{kind: kindLogout, s: s})
	}
	g.mu.Unlock()
	if err := forEach(ctx, out, func(o op) error {
		g.run(ctx, o, time.Now())
		return nil
	}); err != nil {
		return 0, err
	}

	var mu sync.Mutex
	lost := 0
	if err := forEach(ctx, g.users, func(u *user) error {
		if spared[u] {
			return nil
		}
		n, err := g.revoke(ctx, u)
		mu.Lock()
		lost += n
		mu.Unlock()
		return err
	}); err != nil {
		return lost, err
	}
	if err := g.cleanupComplete(ctx); err != nil {
		return lost, err
	}
	return lost, g.logoutAdmin(ctx)
}

// revoke ends every session of u through DELETE /sessions/{user_id}.
func (g *gen) revoke(ctx context.Context, u *user) (int, error) {
	var out struct {
		Revoked int `json:"revoked"`
	}
	st, err := g.api.call(ctx, g.adminClient, http.MethodDelete, fmt.Sprintf("/sessions/%d", u.id), g.admin.Load().access, nil, &out)
	if err != nil || st != http.StatusOK {
		return 0, fmt.Errorf("revoke the sessions of %s: status %d: %v", u.name, st, err)
	}
	return out.Revoked, nil
}

// cleanup runs POST /cleanup once as part of the load, and renews the
// admin's session first when its access token is past half its life.
func (g *gen) cleanup(ctx context.Context) {
	if old := g.admin.Load(); old.stale(time.Now()) {
		if err := g.loginAdminAgain(ctx, old); err != nil {
			g.count(op{kind: kindLogin}, 0, err, false, 0)
		}
	}
	g.run(ctx, op{kind: kindCleanup}, time.Now())
}

// logoutAdmin ends the admin's session.
func (g *gen) logoutAdmin(ctx context.Context) error {
	st, err := g.api.call(ctx, g.adminClient, http.MethodPost, "/logout", g.admin.Load().access, nil, nil)
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("admin logout: status %d: %v", st, err)
	}
	return nil
}

// loginAdminAgain replaces the admin's session with a new login and logs
// the old one out.
func (g *gen) loginAdminAgain(ctx context.Context, old *session) error {
	name, password := g.adminName, g.adminPassword
	if err := g.loginAdmin(ctx, name, password); err != nil {
		return err
	}
	st, err := g.api.call(ctx, g.adminClient, http.MethodPost, "/logout", old.access, nil, nil)
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("admin logout: status %d: %v", st, err)
	}
	return nil
}

// cleanupComplete runs POST /cleanup until it reports complete.
func (g *gen) cleanupComplete(ctx context.Context) error {
	for range 20 {
		var res struct {
			Complete bool `json:"complete"`
		}
		st, err := g.api.call(ctx, g.adminClient, http.MethodPost, "/cleanup", g.admin.Load().access, nil, &res)
		switch {
		case err != nil:
			return fmt.Errorf("cleanup: %w", err)
		case st == http.StatusOK && res.Complete:
			return nil
		case st != http.StatusOK && st != http.StatusConflict:
			return fmt.Errorf("cleanup: status %d", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("cleanup did not complete in 20 runs")
}

// forEach calls f for every item, four at a time, and returns the first
// error (the items after it are still done).
func forEach[T any](ctx context.Context, items []T, f func(T) error) error {
	sem := make(chan struct{}, 4)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(it); err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return cmp.Or(first, ctx.Err())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
