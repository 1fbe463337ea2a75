package auth_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"authfn/pkg/app"
	"authfn/pkg/auth"
	"authfn/pkg/metrics"
	"authfn/pkg/postgres"
	"authfn/pkg/testenv"
)

// endedFirstWrite is the real PostgreSQL store, whose first RecordEvent
// runs on a context that has already ended, as when the client of the
// request that wrote it went away: the real store then really fails.
type endedFirstWrite struct {
	app.SQLStore
	calls atomic.Int64
}

func (s *endedFirstWrite) RecordEvent(ctx context.Context, e auth.Event) error {
	if s.calls.Add(1) == 1 {
		ended, cancel := context.WithCancel(ctx)
		cancel()
		ctx = ended
	}
	return s.SQLStore.RecordEvent(ctx, e)
}

// auditDown is the real PostgreSQL store with the audit log on a server
// that is down: logins work, their audit events cannot be written.
type auditDown struct {
	app.SQLStore
	down *postgres.Store
}

func (s auditDown) RecordEvent(ctx context.Context, e auth.Event) error {
	return s.down.RecordEvent(ctx, e)
}

// TestAuditWriteIsRetriedOnce: a failed audit write is tried once more on
// a context of its own, so the login.succeeded event lands although the
// first write failed, and the retry is counted; with the audit store down
// the login still succeeds and the lost event is counted.
func TestAuditWriteIsRetriedOnce(t *testing.T) {
	env := testenv.New(t)
	env.CreateUser(t, "alice", "alice password", false)

	t.Run("failed once", func(t *testing.T) {
		m, scrape := testenv.NewMetrics(t)
		store := &endedFirstWrite{SQLStore: env.SQL}
		svc := env.With(t, app.Backends{SQL: store, Redis: env.Redis, Metrics: m})
		if _, err := svc.Auth.Sessions.Login(context.Background(), "alice", "alice password"); err != nil {
			t.Fatal(err)
		}
		if n := store.calls.Load(); n != 2 {
			t.Errorf("RecordEvent calls = %d, want 2 (the failed one and the retry)", n)
		}
		if ev := env.Events(t, auth.EventLoginSucceeded); len(ev) != 1 {
			t.Errorf("login.succeeded events = %d, want 1: the retry must land it", len(ev))
		}
		s := scrape()
		if got := s.Value(metrics.NameAuditWriteFailure, "outcome", "retried_ok"); got != 1 {
			t.Errorf("audit failures retried_ok = %v, want 1", got)
		}
		if got := s.Value(metrics.NameAuditWriteFailure, "outcome", "lost"); got != 0 {
			t.Errorf("audit failures lost = %v, want 0", got)
		}
	})

	t.Run("store down", func(t *testing.T) {
		m, scrape := testenv.NewMetrics(t)
		dead, err := postgres.Open(context.Background(), "postgres://postgres@"+testenv.DeadAddr+"/authfn?sslmode=disable", postgres.Options{QueryTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(dead.Close)
		svc := env.With(t, app.Backends{SQL: auditDown{SQLStore: env.SQL, down: dead}, Redis: env.Redis, Metrics: m})
		before := len(env.Events(t, auth.EventLoginSucceeded))
		if _, err := svc.Auth.Sessions.Login(context.Background(), "alice", "alice password"); err != nil {
			t.Fatalf("Login with the audit log down: %v, want success", err)
		}
		if ev := env.Events(t, auth.EventLoginSucceeded); len(ev) != before {
			t.Errorf("login.succeeded events = %d, want %d: nothing could be written", len(ev), before)
		}
		s := scrape()
		if got := s.Value(metrics.NameAuditWriteFailure, "outcome", "lost"); got != 1 {
			t.Errorf("audit failures lost = %v, want 1", got)
		}
		if got := s.Value(metrics.NameAuditWriteFailure, "outcome", "retried_ok"); got != 0 {
			t.Errorf("audit failures retried_ok = %v, want 0", got)
		}
	})
}
