package web

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
	"authfn/pkg/metrics/prom"
)

// observed is what the stack reported of one request.
type observed struct {
	Pattern, Method string
	Status          int
}

// recorder keeps what Stack tells its RequestObserver.
type recorder struct {
	mu  sync.Mutex
	got []observed
}

func (r *recorder) ObserveRequest(pattern, method string, status int, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d <= 0 {
		status = -1 // a duration must have been measured
	}
	r.got = append(r.got, observed{pattern, method, status})
}

// TestStackReportsRoutePatterns: the observer hears the pattern that
// matched, never the path a client sent, the status answered (a
// panic's 500, a problem document's status, an unrouted 404 and 405),
// and CORS preflights answered before routing as no route.
func TestStackReportsRoutePatterns(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET /api/auth/v2/users/{id}", Handle(discard, func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("id") == "0" {
			return auth.ErrNotFound
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	mux.HandleFunc("POST /api/auth/v2/boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	rec := &recorder{}
	h := Stack(discard, mux, Options{Metrics: rec, AllowedOrigins: []string{"https://app.example"}})

	for _, c := range []struct{ method, path string }{
		{"GET", "/api/auth/v2/users/42"},
		{"GET", "/api/auth/v2/users/0"},
		{"POST", "/api/auth/v2/boom"},
		{"GET", "/api/auth/v2/nothing-here/123"},
		{"DELETE", "/api/auth/v2/users/42"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(c.method, c.path, nil))
	}
	pre := httptest.NewRequest("OPTIONS", "/api/auth/v2/users/42", nil)
	pre.Header.Set("Origin", "https://app.example")
	pre.Header.Set("Access-Control-Request-Method", "GET")
	h.ServeHTTP(httptest.NewRecorder(), pre)

	want := []observed{
		{"GET /api/auth/v2/users/{id}", "GET", 204},
		{"GET /api/auth/v2/users/{id}", "GET", 404},
		{"POST /api/auth/v2/boom", "POST", 500},
		{"", "GET", 404},
		{"", "DELETE", 405},
		{"", "OPTIONS", 204},
	}
	if diff := cmp.Diff(want, rec.got); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
}

// BenchmarkStack measures the shared middleware on a GET /me-shaped
// request with metrics off and on (the Prometheus sink): the difference is
// what metrics cost each request.
func BenchmarkStack(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/auth/v2/me", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":1}`))
	})
	m, _, err := prom.New()
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		o    Options
	}{{"off", Options{}}, {"on", Options{Metrics: m}}} {
		b.Run("metrics="+c.name, func(b *testing.B) {
			h := Stack(discard, mux, c.o)
			req := httptest.NewRequest("GET", "/api/auth/v2/me", nil)
			w := discardWriter{http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing but one header map,
// so the benchmark measures the middleware rather than a recorder.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header       { return d.h }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}
