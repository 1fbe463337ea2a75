package prom_test

import (
	"bytes"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
	"authfn/pkg/metrics"
	"authfn/pkg/metrics/prom"
	"authfn/pkg/testenv"
)

// recordOneOfEach records every metric once, as a run of the service
// would across its requests and a cleanup.
func recordOneOfEach(m *metrics.Metrics) {
	m.ObserveRequest("GET /api/auth/v2/users/{id}", "GET", 200, 20*time.Millisecond)
	m.ObserveRequest("GET /api/auth/v2/users/{id}", "GET", 404, 2*time.Millisecond)
	m.ObserveRequest("", "BREW", 405, time.Millisecond)
	m.LoginFinished(auth.LoginLocked)
	m.RefreshFinished(auth.RefreshReused)
	m.AuditWriteFailed(auth.AuditRetriedOK)
	m.StoreCall(metrics.StorePostgres, 4*time.Millisecond, true)
	m.StoreCall(metrics.StoreRedis, 300*time.Microsecond, false)
	m.SessionsCounted(auth.SessionStats{ActiveSessions: 5, ActiveUsers: 2})
}

// TestPrometheusAndEMFCarryTheSameMetrics records the same things into
// both sinks: the Prometheus text (parsed by Prometheus's own parser) and
// the EMF lines (checked against the EMF specification) hold the same
// metric names, every one of metrics.Defs, with the same values.
func TestPrometheusAndEMFCarryTheSameMetrics(t *testing.T) {
	pm, handler, err := prom.New()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	em := metrics.New(metrics.NewEMF(&buf, nil))
	recordOneOfEach(pm)
	recordOneOfEach(em)
	em.Flush()

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want the text format", ct)
	}
	body := rec.Body.String()
	s := testenv.ParseMetrics(t, strings.NewReader(body))
	points := testenv.ParseEMF(t, buf.Bytes())

	var want []string
	for _, d := range metrics.Defs() {
		want = append(want, d.Name)
	}
	slices.Sort(want)
	var promNames []string
	for name := range maps.Keys(s) {
		if strings.HasPrefix(name, "authfn_") {
			promNames = append(promNames, name)
		}
	}
	slices.Sort(promNames)
	if diff := cmp.Diff(want, promNames); diff != "" {
		t.Errorf("Prometheus names (-defs +scrape):\n%s", diff)
	}
	if diff := cmp.Diff(want, testenv.EMFNames(points)); diff != "" {
		t.Errorf("EMF names (-defs +EMF):\n%s", diff)
	}
	if !s.Has("go_goroutines") {
		t.Error("no go_goroutines: the runtime collector is missing")
	}

	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{metrics.NameHTTPRequests, []string{"route", "/api/auth/v2/users/{id}", "method", "GET", "status", "200"}, 1},
		{metrics.NameHTTPRequests, []string{"route", "/api/auth/v2/users/{id}", "method", "GET", "status", "404"}, 1},
		{metrics.NameHTTPRequests, []string{"route", "unmatched", "method", "OTHER", "status", "405"}, 1},
		{metrics.NameLogins, []string{"outcome", "locked"}, 1},
		{metrics.NameRefreshes, []string{"outcome", "reused"}, 1},
		{metrics.NameAuditWriteFailure, []string{"outcome", "retried_ok"}, 1},
		{metrics.NameStoreErrors, []string{"store", "postgres"}, 1},
		{metrics.NameSessionsActive, nil, 5},
		{metrics.NameUsersActive, nil, 2},
	} {
		if got := s.Value(c.name, c.labels...); got != c.want {
			t.Errorf("Prometheus %s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
		if got := testenv.EMFSum(points, c.name, c.labels...); got != c.want {
			t.Errorf("EMF %s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   int
	}{
		{metrics.NameHTTPDuration, []string{"route", "/api/auth/v2/users/{id}", "method", "GET"}, 2},
		{metrics.NameStoreDuration, []string{"store", "postgres"}, 1},
		{metrics.NameStoreDuration, []string{"store", "redis"}, 1},
	} {
		if got := s.HistogramCount(c.name, c.labels...); got != uint64(c.want) {
			t.Errorf("Prometheus %s%v count = %d, want %d", c.name, c.labels, got, c.want)
		}
		if got := testenv.EMFCount(points, c.name, c.labels...); got != c.want {
			t.Errorf("EMF %s%v count = %d, want %d", c.name, c.labels, got, c.want)
		}
	}

	// Outcomes that did not happen are there at zero, so that a rate over
	// them is 0 rather than no data; the raw path and the made-up method
	// are nowhere.
	if !s.Has(metrics.NameLogins, "outcome", "succeeded") || s.Value(metrics.NameLogins, "outcome", "succeeded") != 0 {
		t.Error("logins{outcome=succeeded} is not there at zero")
	}
	if strings.Contains(body, "BREW") {
		t.Error("the request's own method became a label value")
	}
}
