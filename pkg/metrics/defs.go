// Package metrics holds the service's metrics once, names, labels, help,
// units and buckets, and records them into a Sink: Prometheus in the local
// runner (package prom beside this one, which only the runner links) and
// CloudWatch Embedded Metric Format lines in Lambda (EMF, here). Both sinks
// get the same definitions, so a metric has one name everywhere
// (docs/architecture.md, Metrics).
//
// Metrics is what the rest of the service reports to: the HTTP middleware
// (web.Options.Metrics), the core (auth.WithMetrics), and the store
// clients, through a go-redis hook and a pgx tracer attached where the
// clients are made. Label children are resolved once and cached, so a
// request costs a map lookup and a few atomic adds, no allocation.
package metrics

// Kind is what a metric measures.
type Kind int

// Kinds of metric.
const (
	Counter Kind = iota
	Histogram
	Gauge
)

// Def defines one metric for every sink.
type Def struct {
	Name   string
	Help   string
	Kind   Kind
	Labels []string // label names (Prometheus) = dimension names (CloudWatch)
	// Unit is the CloudWatch unit; Prometheus carries it in the name.
	Unit string
	// Buckets are a Histogram's upper bounds, in seconds (Prometheus only:
	// CloudWatch keeps the values and computes percentiles itself).
	Buckets []float64
}

// Metric names, the same in every sink.
const (
	NameHTTPRequests      = "authfn_http_requests_total"
	NameHTTPDuration      = "authfn_http_request_duration_seconds"
	NameLogins            = "authfn_logins_total"
	NameRefreshes         = "authfn_refresh_total"
	NameStoreDuration     = "authfn_store_call_duration_seconds"
	NameStoreErrors       = "authfn_store_errors_total"
	NameSessionsActive    = "authfn_sessions_active"
	NameUsersActive       = "authfn_users_active"
	NameAuditWriteFailure = "authfn_audit_write_failures_total"
)

// Stores, the store label of the store metrics. The embedded SQLite of the
// local runner is not measured: database/sql has no hook to attach.
const (
	StorePostgres = "postgres"
	StoreRedis    = "redis"
)

// unmatched is the route label of a request no route matched (404, 405):
// never the raw path, which anyone can vary without end.
const unmatched = "unmatched"

// Defs returns every metric the service records.
func Defs() []Def {
	// Requests run from a JWT check (under a millisecond) to a login's
	// bcrypt (about 250 ms at cost 12) and a cleanup run (seconds).
	httpBuckets := []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
	// A store round trip is well under a millisecond on a LAN; the top
	// buckets catch the store deadline (3 s).
	storeBuckets := []float64{0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
	return []Def{
		{Name: NameHTTPRequests, Kind: Counter, Unit: "Count", Labels: []string{"route", "method", "status"},
			Help: "HTTP requests answered, by route pattern, method and status."},
		{Name: NameHTTPDuration, Kind: Histogram, Unit: "Seconds", Labels: []string{"route", "method"}, Buckets: httpBuckets,
			Help: "Time to answer an HTTP request, by route pattern and method."},
		{Name: NameLogins, Kind: Counter, Unit: "Count", Labels: []string{"outcome"},
			Help: "Logins (POST /login and the password grant of POST /token), by outcome."},
		{Name: NameRefreshes, Kind: Counter, Unit: "Count", Labels: []string{"outcome"},
			Help: "Refresh-token rotations (POST /refresh and the refresh grant of POST /token), by outcome."},
		{Name: NameStoreDuration, Kind: Histogram, Unit: "Seconds", Labels: []string{"store"}, Buckets: storeBuckets,
			Help: "Time of one store round trip (a PostgreSQL query, a Redis command or pipeline), by store."},
		{Name: NameStoreErrors, Kind: Counter, Unit: "Count", Labels: []string{"store"},
			Help: "Store round trips that failed (not a no-rows or constraint answer, not a caller that gave up), by store."},
		{Name: NameSessionsActive, Kind: Gauge, Unit: "Count",
			Help: "Live sessions in the session index, as the last cleanup counted them."},
		{Name: NameUsersActive, Kind: Gauge, Unit: "Count",
			Help: "Users with at least one live session, as the last cleanup counted them."},
		{Name: NameAuditWriteFailure, Kind: Counter, Unit: "Count", Labels: []string{"outcome"},
			Help: "Audit writes that failed once: retried_ok when the retry wrote the event, lost when it did not."},
	}
}

// def returns the definition named name; the names are the constants above.
func def(name string) Def {
	for _, d := range Defs() {
		if d.Name == name {
			return d
		}
	}
	panic("metrics: no metric " + name)
}
