package sessions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"authfn/pkg/auth"
)

// BenchmarkSessionListFirstPage reads the first page (50) of GET /sessions
// through the real route and middleware, with a thousand and with a
// hundred thousand live sessions. live=1000 is the baseline of `make
// bench`'s ratios: the two must stay within 2x of each other, since a page
// costs the same however many sessions exist.
func BenchmarkSessionListFirstPage(b *testing.B) {
	for _, live := range []int{1000, 100_000} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			f := setup(b)
			start := time.Now()
			populate(b, f, live-1) // the admin's own session is the last one
			b.Logf("populated %d sessions in %v", live, time.Since(start).Round(time.Millisecond))
			if st := f.list(b, 1, "").Stats; st.ActiveSessions != int64(live) {
				b.Fatalf("active_sessions = %d, want %d", st.ActiveSessions, live)
			}
			// Straight to the handler: the test client's OpenAPI check of
			// every response would cost more than the route itself.
			h, authz := f.Handler, "Bearer "+f.adminPair.AccessToken
			var body struct {
				Sessions []json.RawMessage `json:"sessions"`
			}
			for b.Loop() {
				req := httptest.NewRequest("GET", base+"/sessions?limit=50", nil)
				req.Header.Set("Authorization", authz)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status = %d, want 200: %s", rec.Code, rec.Body)
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Sessions) != 50 {
					b.Fatalf("first page: %d sessions, %v; want 50", len(body.Sessions), err)
				}
			}
		})
	}
}

// populate creates n live sessions of n/20 users straight in the session
// store (a login would cost a bcrypt hash each), older than the admin's, from
// a few goroutines so that Redis rather than the round trips sets the pace.
func populate(b testing.TB, f *fixture, n int) {
	b.Helper()
	ctx := context.Background()
	now := f.Clock.Now()
	const workers = 16
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				created := now.Add(-time.Duration(n-i) * time.Millisecond)
				s := auth.Session{
					ID:     fmt.Sprintf("s_bench%017d", i),
					UserID: int64(1000 + i%max(n/20, 1)), Username: fmt.Sprintf("bench%d", i%max(n/20, 1)),
					CreatedAt: created, LastSeenAt: created,
					ExpiresAt: now.Add(24 * time.Hour), AbsoluteExpiresAt: created.Add(30 * 24 * time.Hour),
					IP: "203.0.113.9", UserAgent: "bench/1.0",
				}
				if err := f.Sessions.CreateSession(ctx, s, "rh-"+s.ID); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatalf("create session: %v", err)
		}
	}
}
