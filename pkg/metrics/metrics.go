package metrics

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"authfn/pkg/auth"
)

// Sink keeps the values of the metrics in Defs. Each method returns the
// child of one metric for one set of label values (in d.Labels' order);
// Metrics asks once per set and keeps the child.
type Sink interface {
	Counter(d Def, labelValues ...string) CounterChild
	Histogram(d Def, labelValues ...string) ObserverChild
	Gauge(d Def, labelValues ...string) GaugeChild
}

// CounterChild is one counter series.
type CounterChild interface{ Add(float64) }

// ObserverChild is one histogram series.
type ObserverChild interface{ Observe(float64) }

// GaugeChild is one gauge series.
type GaugeChild interface{ Set(float64) }

// Flusher is a Sink that writes what it holds at the end of each Lambda
// invocation (EMF).
type Flusher interface{ Flush() }

// Metrics records the service's metrics into a Sink. It implements
// auth.Metrics and web.RequestObserver. A nil *Metrics records nothing.
type Metrics struct {
	sink Sink

	logins  map[auth.LoginOutcome]CounterChild
	refresh map[auth.RefreshOutcome]CounterChild
	audit   map[auth.AuditOutcome]CounterChild
	stores  map[string]storeChildren

	// requests is copied on write: the request path only loads it.
	requests atomic.Pointer[map[requestKey]*requestChildren]
	mu       sync.Mutex // serialises writers of requests and lazy children

	httpRequests, httpDuration, storeDuration, storeErrors Def
	sessionsActive, usersActive                            GaugeChild
	gaugesOnce                                             sync.Once
}

type storeChildren struct {
	duration ObserverChild
	errors   CounterChild
}

type requestKey struct {
	pattern, method string
	status          int
}

type requestChildren struct {
	count    CounterChild
	duration ObserverChild
}

// New returns Metrics recording into sink. Every label value known in
// advance (outcomes, stores) is resolved now, so that a Prometheus scrape
// shows each at zero before it first happens.
func New(sink Sink) *Metrics {
	m := &Metrics{
		sink:   sink,
		logins: map[auth.LoginOutcome]CounterChild{}, refresh: map[auth.RefreshOutcome]CounterChild{},
		audit: map[auth.AuditOutcome]CounterChild{}, stores: map[string]storeChildren{},
		httpRequests: def(NameHTTPRequests), httpDuration: def(NameHTTPDuration),
		storeDuration: def(NameStoreDuration), storeErrors: def(NameStoreErrors),
	}
	logins, refresh, audit := def(NameLogins), def(NameRefreshes), def(NameAuditWriteFailure)
	for _, o := range auth.LoginOutcomes() {
		m.logins[o] = sink.Counter(logins, string(o))
	}
	for _, o := range auth.RefreshOutcomes() {
		m.refresh[o] = sink.Counter(refresh, string(o))
	}
	for _, o := range auth.AuditOutcomes() {
		m.audit[o] = sink.Counter(audit, string(o))
	}
	for _, s := range []string{StorePostgres, StoreRedis} {
		m.stores[s] = storeChildren{duration: sink.Histogram(m.storeDuration, s), errors: sink.Counter(m.storeErrors, s)}
	}
	m.requests.Store(&map[requestKey]*requestChildren{})
	return m
}

// LoginFinished counts a login by outcome (auth.Metrics).
func (m *Metrics) LoginFinished(o auth.LoginOutcome) {
	if m != nil {
		count(m.logins, o)
	}
}

// RefreshFinished counts a refresh by outcome (auth.Metrics).
func (m *Metrics) RefreshFinished(o auth.RefreshOutcome) {
	if m != nil {
		count(m.refresh, o)
	}
}

// AuditWriteFailed counts an audit write that failed once (auth.Metrics).
func (m *Metrics) AuditWriteFailed(o auth.AuditOutcome) {
	if m != nil {
		count(m.audit, o)
	}
}

// count adds one to the child of k; the outcomes are the core's
// constants, all resolved by New.
func count[K comparable](children map[K]CounterChild, k K) {
	if c, ok := children[k]; ok {
		c.Add(1)
	}
}

// SessionsCounted sets the active sessions and users gauges
// (auth.Metrics, at cleanup time). They appear at the first count, not
// before: a zero before anyone counted would be a false reading.
func (m *Metrics) SessionsCounted(s auth.SessionStats) {
	if m == nil {
		return
	}
	m.gaugesOnce.Do(func() {
		m.sessionsActive = m.sink.Gauge(def(NameSessionsActive))
		m.usersActive = m.sink.Gauge(def(NameUsersActive))
	})
	m.sessionsActive.Set(float64(s.ActiveSessions))
	m.usersActive.Set(float64(s.ActiveUsers))
}

// ObserveRequest counts one answered request and its duration
// (web.RequestObserver). pattern is the ServeMux pattern that matched
// ("GET /api/auth/v2/users/{id}"), "" for none; its path part is the route
// label, so the labels stay as few as the routes.
func (m *Metrics) ObserveRequest(pattern, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	k := requestKey{pattern: pattern, method: methodLabel(method), status: status}
	c := (*m.requests.Load())[k]
	if c == nil {
		c = m.requestChildren(k)
	}
	c.count.Add(1)
	c.duration.Observe(d.Seconds())
}

func (m *Metrics) requestChildren(k requestKey) *requestChildren {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.requests.Load()
	if c := old[k]; c != nil {
		return c
	}
	route := routeLabel(k.pattern)
	status := "other"
	if k.status >= 100 && k.status <= 599 {
		status = strconv.Itoa(k.status)
	}
	c := &requestChildren{
		count:    m.sink.Counter(m.httpRequests, route, k.method, status),
		duration: m.sink.Histogram(m.httpDuration, route, k.method),
	}
	next := make(map[requestKey]*requestChildren, len(old)+1)
	for key, v := range old {
		next[key] = v
	}
	next[k] = c
	m.requests.Store(&next)
	return c
}

// StoreCall records one store round trip; failed says whether it counts
// as a store error.
func (m *Metrics) StoreCall(store string, d time.Duration, failed bool) {
	if m == nil {
		return
	}
	c, ok := m.stores[store]
	if !ok {
		return
	}
	c.duration.Observe(d.Seconds())
	if failed {
		c.errors.Add(1)
	}
}

// Flush writes what the sink holds, if it is one that writes (EMF at the
// end of a Lambda invocation); otherwise it does nothing.
func (m *Metrics) Flush() {
	if m == nil {
		return
	}
	if f, ok := m.sink.(Flusher); ok {
		f.Flush()
	}
}

// routeLabel is the path part of a ServeMux pattern.
func routeLabel(pattern string) string {
	if pattern == "" {
		return unmatched
	}
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = strings.TrimLeft(pattern[i+1:], " \t")
	}
	return pattern
}

// methodLabel maps the request's method to one of a fixed few, so that a
// client inventing methods cannot invent series.
func methodLabel(m string) string {
	switch m {
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "PATCH":
		return "PATCH"
	case "DELETE":
		return "DELETE"
	case "OPTIONS":
		return "OPTIONS"
	}
	return "OTHER"
}
