package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The mix, in percent of the operations drawn. A login of a user at the
// cap of sessions (-sessions-per-user) logs one of its sessions out
// first. An operation with nothing to work on is skipped (see next).
var mix = []struct {
	kind   kind
	weight int
	what   string
}{
	{kindRead, 80, "reads (GET /me, /me/sessions or /preferences with a live token)"},
	{kindLogin, 8, "logins of test users"},
	{kindRefresh, 6, "refreshes (POST /refresh, keeping the new pair)"},
	{kindAdmin, 4, "admin pages (GET /users or /sessions)"},
	{kindLogout, 2, "logouts"},
}

// mixLine describes the mix in a line.
func mixLine() string {
	var parts []string
	for _, m := range mix {
		parts = append(parts, fmt.Sprintf("%d %% %s", m.weight, m.what))
	}
	return strings.Join(parts, ", ")
}

type kind int

const (
	kindRead kind = iota
	kindLogin
	kindRefresh
	kindAdmin
	kindLogout
	kindCleanup
)

var (
	readPaths  = []string{"/me", "/me/sessions", "/preferences"}
	adminPaths = []string{"/users?limit=50", "/sessions?limit=50"}
)

// user is a test user and the sessions the load holds for it.
type user struct {
	id             int64
	name, password string
	client         *http.Client // from the user's own loopback address
	live           int          // sessions held or being made
	loggingIn      bool         // one login at a time, so the throttle's count never reaches its limit
}

// session is a live login. A session is used by one request at a time, so
// no request races a refresh or logout of its own session: every answer
// then has one expected status.
type session struct {
	user           *user
	access         string
	refresh        string
	id             string
	issued         time.Time
	accessLifetime time.Duration
}

// stale reports whether the access token is past half its lifetime, when
// the load refreshes instead of reading, so a long run never sends an
// expired token.
func (s *session) stale(now time.Time) bool {
	return now.Sub(s.issued) > s.accessLifetime/2
}

func (s *session) set(p tokenPair, now time.Time) {
	s.access, s.refresh, s.id = p.AccessToken, p.RefreshToken, p.SessionID
	s.issued, s.accessLifetime = now, time.Duration(p.ExpiresIn)*time.Second
}

// op is one drawn operation with what it holds.
type op struct {
	kind kind
	path string
	s    *session
	u    *user
}

func (o op) label() string {
	switch o.kind {
	case kindRead:
		return "GET " + trimQuery(o.path)
	case kindLogin:
		return "POST /login"
	case kindRefresh:
		return "POST /refresh"
	case kindAdmin:
		return "GET " + trimQuery(o.path)
	case kindLogout:
		return "POST /logout"
	case kindCleanup:
		return "POST /cleanup"
	}
	return "?"
}

func trimQuery(p string) string {
	for i := range len(p) {
		if p[i] == '?' {
			return p[:i]
		}
	}
	return p
}

// gen is the load generator: the test users, the sessions it holds, the
// admin's session and the tally of the current stretch of the run.
type gen struct {
	api         *api
	adminClient *http.Client
	admin       atomic.Pointer[session]
	// adminName and adminPassword renew the admin's session in long runs.
	adminName, adminPassword string
	perUser                  int

	mu    sync.Mutex
	rnd   *rand.Rand
	users []*user
	free  []*session // sessions no request is using

	skipped atomic.Int64 // requests of the current slice not sent

	tmu   sync.Mutex
	tally Tally
	byOp  map[string][]time.Duration // every answer's latency, by operation
}

// next draws an operation and reserves what it uses. It reports false
// when the operation drawn has nothing to work on (every session in use,
// every user logging in): the request is skipped rather than replaced by
// another, so that an overloaded server does not see the mix shift.
func (g *gen) next(now time.Time) (op, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch k := g.draw(); k {
	case kindRead, kindRefresh, kindLogout:
		s := g.takeFree()
		if s == nil {
			return op{}, false
		}
		if k == kindRead && s.stale(now) {
			k = kindRefresh
		}
		o := op{kind: k, s: s}
		if k == kindRead {
			o.path = readPaths[g.rnd.IntN(len(readPaths))]
		}
		return o, true
	case kindLogin:
		u, old := g.takeUser()
		return op{kind: kindLogin, u: u, s: old}, u != nil
	default:
		return op{kind: kindAdmin, path: adminPaths[g.rnd.IntN(len(adminPaths))]}, true
	}
}

func (g *gen) draw() kind {
	n := g.rnd.IntN(100)
	for _, m := range mix {
		if n < m.weight {
			return m.kind
		}
		n -= m.weight
	}
	return kindRead
}

func (g *gen) takeFree() *session {
	if len(g.free) == 0 {
		return nil
	}
	i := g.rnd.IntN(len(g.free))
	s := g.free[i]
	g.free[i] = g.free[len(g.free)-1]
	g.free = g.free[:len(g.free)-1]
	return s
}

// takeUser picks a user that may log in now, or nil. A user at the cap
// of sessions may too, if one of its sessions is free: that session is
// returned, for the login to end first, so that a full pool still logs in
// at the mix's rate.
func (g *gen) takeUser() (*user, *session) {
	start := g.rnd.IntN(len(g.users))
	for i := range g.users {
		u := g.users[(start+i)%len(g.users)]
		if u.loggingIn {
			continue
		}
		if u.live < g.perUser {
			u.loggingIn = true
			u.live++
			return u, nil
		}
		for j, s := range g.free {
			if s.user == u {
				g.free[j] = g.free[len(g.free)-1]
				g.free = g.free[:len(g.free)-1]
				u.loggingIn = true // the old session's place goes to the new one
				return u, s
			}
		}
	}
	return nil, nil
}

// done gives back what o held. ok says the answer was the expected one.
// A read changes nothing, so its session goes back unless the answer was
// 401 (then it is gone); after a failed refresh, login or logout the
// session's state is unknown and it is dropped from the pool (the end
// revokes every user's sessions anyway).
func (g *gen) done(o op, ok bool, status int, made *session) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch o.kind {
	case kindLogin:
		o.u.loggingIn = false
		if ok {
			g.free = append(g.free, made)
		} else {
			o.u.live--
		}
	case kindRead, kindRefresh:
		if ok || (o.kind == kindRead && status != http.StatusUnauthorized) {
			g.free = append(g.free, o.s)
		} else {
			o.s.user.live--
		}
	case kindLogout:
		o.s.user.live--
	}
}

// exec sends o's request and reports its status (and an error when there
// was no usable answer). A login returns the session it made.
func (g *gen) exec(ctx context.Context, o op) (int, *session, error) {
	admin := g.admin.Load()
	switch o.kind {
	case kindRead:
		st, err := g.api.call(ctx, o.s.user.client, http.MethodGet, o.path, o.s.access, nil, nil)
		return st, nil, err
	case kindAdmin:
		st, err := g.api.call(ctx, g.adminClient, http.MethodGet, o.path, admin.access, nil, nil)
		return st, nil, err
	case kindCleanup:
		st, err := g.api.call(ctx, g.adminClient, http.MethodPost, "/cleanup", admin.access, nil, nil)
		return st, nil, err
	case kindLogout:
		st, err := g.api.call(ctx, o.s.user.client, http.MethodPost, "/logout", o.s.access, nil, nil)
		return st, nil, err
	case kindRefresh:
		var p tokenPair
		st, err := g.api.call(ctx, o.s.user.client, http.MethodPost, "/refresh", "",
			map[string]string{"refresh_token": o.s.refresh}, &p)
		if err == nil && st == http.StatusOK {
			o.s.set(p, time.Now())
		}
		return st, nil, err
	case kindLogin:
		var p tokenPair
		st, err := g.api.call(ctx, o.u.client, http.MethodPost, "/login", "",
			map[string]string{"username": o.u.name, "password": o.u.password}, &p)
		if err != nil || st != http.StatusOK {
			return st, nil, err
		}
		s := &session{user: o.u}
		s.set(p, time.Now())
		return st, s, nil
	}
	return 0, nil, fmt.Errorf("unknown operation %d", o.kind)
}

// expected says whether status is the answer o must get: 200 everywhere,
// and 409 for cleanup too (the runner's own timer may hold the lock).
func expected(o op, status int) bool {
	return status == http.StatusOK || (o.kind == kindCleanup && status == http.StatusConflict)
}

// run executes o, due at due, counts its answer and gives back what it
// held. A login that ends an old session first counts that logout as an
// answer of its own, and its own latency from the logout's end.
func (g *gen) run(ctx context.Context, o op, due time.Time) bool {
	if o.kind == kindLogin && o.s != nil {
		out := op{kind: kindLogout, s: o.s}
		status, _, err := g.exec(ctx, out)
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			g.done(o, false, 0, nil)
			return false
		}
		g.count(out, status, err, err == nil && expected(out, status), time.Since(due))
		due = time.Now()
	}
	status, made, err := g.exec(ctx, o)
	took := time.Since(due)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		g.done(o, false, 0, nil)
		return false // interrupted: not an answer
	}
	ok := err == nil && expected(o, status)
	g.count(o, status, err, ok, took)
	g.done(o, ok, status, made)
	return ok
}

func (g *gen) count(o op, status int, err error, ok bool, took time.Duration) {
	g.tmu.Lock()
	defer g.tmu.Unlock()
	t := &g.tally
	t.Requests++
	t.Latencies = append(t.Latencies, took)
	if g.byOp == nil {
		g.byOp = map[string][]time.Duration{}
	}
	g.byOp[o.label()] = append(g.byOp[o.label()], took)
	if ok {
		return
	}
	switch {
	case err != nil:
		t.Unexpected++
	case status >= 500:
		t.Status5xx++
	case status == http.StatusTooManyRequests:
		t.Status429++
	default:
		t.Unexpected++
	}
	if t.Odd == nil {
		t.Odd = map[string]int{}
	}
	what := strconv.Itoa(status)
	if err != nil {
		what = "error"
	}
	t.Odd[o.label()+" "+what]++
}

// operations returns the whole run's answers by operation, a tally each.
func (g *gen) operations() map[string]Tally {
	g.tmu.Lock()
	defer g.tmu.Unlock()
	out := map[string]Tally{}
	for k, l := range g.byOp {
		out[k] = Tally{Requests: len(l), Latencies: l}
	}
	return out
}

// take returns the tally so far and starts a new one.
func (g *gen) take() Tally {
	g.tmu.Lock()
	defer g.tmu.Unlock()
	t := g.tally
	g.tally = Tally{}
	return t
}

// burst runs the mix closed-loop with workers for d, each sending its next
// request as soon as the last is answered, and returns the answers per
// second: the peak the open-loop phase is set from.
func (g *gen) burst(ctx context.Context, workers int, d time.Duration) float64 {
	start := time.Now()
	end := start.Add(d)
	var answered atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(end) {
				now := time.Now()
				o, ok := g.next(now)
				if !ok {
					time.Sleep(time.Millisecond)
					continue
				}
				if g.run(ctx, o, now) {
					answered.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(answered.Load()) / time.Since(start).Seconds()
}

// openLoop sends the mix at rate requests per second for d, each request
// at its own due time whatever the earlier ones are doing (open loop, so
// a slow server shows as latency, not as fewer requests), at most
// maxInFlight at once. It calls every at each slice boundary from its own
// goroutine and returns, once the last answer is in, how many requests
// were not sent: because maxInFlight were open, or because what they would
// use was all in use (see next).
func (g *gen) openLoop(ctx context.Context, rate float64, d, slice time.Duration, maxInFlight int, every func(i int, last bool)) (busy, idle int) {
	start := time.Now()
	end := start.Add(d)
	n := int((d + slice - 1) / slice)
	var ticks sync.WaitGroup
	ticks.Go(func() {
		for i := 1; i <= n; i++ {
			at := start.Add(min(time.Duration(i)*slice, d))
			t := time.NewTimer(time.Until(at))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			every(i, i == n)
		}
	})

	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	timer := time.NewTimer(0)
	<-timer.C
loop:
	for i := 0; ; i++ {
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if !due.Before(end) {
			break
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				break loop
			case <-timer.C:
			}
		}
		select {
		case sem <- struct{}{}:
		default:
			busy++
			g.skipped.Add(1)
			continue
		}
		o, ok := g.next(due)
		if !ok {
			<-sem
			idle++
			g.skipped.Add(1)
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			g.run(ctx, o, due)
		})
	}
	wg.Wait()
	ticks.Wait()
	return busy, idle
}
