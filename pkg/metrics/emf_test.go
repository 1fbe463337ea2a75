package metrics_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
	"authfn/pkg/metrics"
	"authfn/pkg/metrics/prom"
	"authfn/pkg/testenv"
)

var emfNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func newEMF() (*metrics.Metrics, *bytes.Buffer) {
	var buf bytes.Buffer
	return metrics.New(metrics.NewEMF(&buf, func() time.Time { return emfNow })), &buf
}

// TestEMFFlushWritesWhatTheInvocationRecorded records what one login
// invocation records and checks the lines Flush writes against the EMF
// specification: each metric once with its dimensions and unit, the
// counter values the increments, the histograms the observations. Two
// stores are two values of one dimension, which one EMF document cannot
// hold, so there are two documents, no more.
func TestEMFFlushWritesWhatTheInvocationRecorded(t *testing.T) {
	m, buf := newEMF()
	m.StoreCall(metrics.StoreRedis, 2*time.Millisecond, false)
	m.StoreCall(metrics.StorePostgres, 3*time.Millisecond, false)
	m.StoreCall(metrics.StoreRedis, time.Millisecond, true)
	m.LoginFinished(auth.LoginSucceeded)
	m.ObserveRequest("POST /api/auth/v2/login", "POST", 200, 250*time.Millisecond)
	m.Flush()

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("Flush wrote %d lines, want 2 (redis and postgres cannot share the store dimension):\n%s", len(lines), buf)
	}
	if !strings.Contains(lines[0], `"Timestamp":1795694400000`) {
		t.Errorf("line 1 = %s, want the clock's time in milliseconds", lines[0])
	}
	points := testenv.ParseEMF(t, buf.Bytes())
	got := map[string][]float64{}
	for _, p := range points {
		key := p.Name + " " + p.Unit
		for _, d := range []string{"route", "method", "status", "outcome", "store"} {
			if v, ok := p.Dims[d]; ok {
				key += " " + d + "=" + v
			}
		}
		got[key] = append(got[key], p.Values...)
	}
	want := map[string][]float64{
		"authfn_store_call_duration_seconds Seconds store=redis":                            {0.002, 0.001},
		"authfn_store_errors_total Count store=redis":                                       {1},
		"authfn_store_call_duration_seconds Seconds store=postgres":                         {0.003},
		"authfn_logins_total Count outcome=succeeded":                                       {1},
		"authfn_http_requests_total Count route=/api/auth/v2/login method=POST status=200":  {1},
		"authfn_http_request_duration_seconds Seconds route=/api/auth/v2/login method=POST": {0.25},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("EMF points (-want +got):\n%s", diff)
	}

	// The next invocation starts from nothing: counters are per invocation.
	buf.Reset()
	m.Flush()
	if buf.Len() != 0 {
		t.Errorf("Flush with nothing recorded wrote %q, want nothing", buf)
	}
	m.LoginFinished(auth.LoginFailed)
	m.Flush()
	points = testenv.ParseEMF(t, buf.Bytes())
	if got := testenv.EMFNames(points); !cmp.Equal(got, []string{metrics.NameLogins}) {
		t.Errorf("second invocation wrote %v, want only %s", got, metrics.NameLogins)
	}
	if n := testenv.EMFSum(points, metrics.NameLogins, "outcome", "failed"); n != 1 {
		t.Errorf("failed logins = %v, want 1", n)
	}
}

// TestEMFSplitsLongHistograms: a metric value holds at most 100 values,
// so a cleanup's hundreds of Redis calls take several documents, none of
// them over the limit (ParseEMF checks), and no observation is lost.
func TestEMFSplitsLongHistograms(t *testing.T) {
	m, buf := newEMF()
	for range 250 {
		m.StoreCall(metrics.StoreRedis, time.Millisecond, false)
	}
	m.Flush()
	points := testenv.ParseEMF(t, buf.Bytes())
	if n := testenv.EMFCount(points, metrics.NameStoreDuration, "store", "redis"); n != 250 {
		t.Errorf("redis observations = %d, want 250", n)
	}
	if n := strings.Count(buf.String(), "\n"); n != 3 {
		t.Errorf("lines = %d, want 3 (100 + 100 + 50)", n)
	}
}

// TestEMFGauges: the cleanup's counts are written with no dimension (one
// empty dimension set, as the specification allows) and only by the
// invocation that counted them.
func TestEMFGauges(t *testing.T) {
	m, buf := newEMF()
	m.SessionsCounted(auth.SessionStats{ActiveSessions: 7, ActiveUsers: 3})
	m.Flush()
	points := testenv.ParseEMF(t, buf.Bytes())
	if s, u := testenv.EMFSum(points, metrics.NameSessionsActive), testenv.EMFSum(points, metrics.NameUsersActive); s != 7 || u != 3 {
		t.Errorf("sessions, users = %v, %v, want 7, 3", s, u)
	}
	if !strings.Contains(buf.String(), `"Dimensions":[[]]`) {
		t.Errorf("gauges' dimensions: %s, want one empty set", buf)
	}
	buf.Reset()
	m.Flush()
	if buf.Len() != 0 {
		t.Errorf("an invocation that counted nothing wrote %s", buf)
	}
}

// TestNilMetricsRecordNothing: a service built without metrics passes a
// nil *Metrics around; every method must be safe on it.
func TestNilMetricsRecordNothing(t *testing.T) {
	var m *metrics.Metrics
	m.LoginFinished(auth.LoginSucceeded)
	m.RefreshFinished(auth.RefreshRotated)
	m.AuditWriteFailed(auth.AuditLost)
	m.SessionsCounted(auth.SessionStats{})
	m.ObserveRequest("GET /x", "GET", 200, time.Millisecond)
	m.StoreCall(metrics.StoreRedis, time.Millisecond, true)
	m.Flush()
}

// BenchmarkObserveRequest is the per-request cost of the HTTP metrics on
// each sink, once the route's children are resolved.
func BenchmarkObserveRequest(b *testing.B) {
	pm, _, err := prom.New()
	if err != nil {
		b.Fatal(err)
	}
	em, _ := newEMF()
	for _, c := range []struct {
		name string
		m    *metrics.Metrics
	}{{"prometheus", pm}, {"emf", em}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.m.ObserveRequest("GET /api/auth/v2/me", "GET", 200, time.Millisecond)
			}
		})
	}
}
