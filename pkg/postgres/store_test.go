package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/postgres"
	"authfn/pkg/storetest"
	"authfn/pkg/testenv"
)

func TestSQLStore(t *testing.T) {
	t.Parallel()
	storetest.SQLStore(t, func(t *testing.T) storetest.SQLStores { return testenv.Postgres(t) })
}

// A server that is not there must cost a request an unavailable error
// within the deadline (a 503), never a 500 and never a hang.
func TestUnreachableServerIsUnavailable(t *testing.T) {
	t.Parallel()
	start := time.Now()
	// Port 1 on the loopback refuses at once; Open itself must not connect.
	s, err := postgres.Open(t.Context(), "postgres://postgres@127.0.0.1:1/x?sslmode=disable", postgres.Options{})
	if err != nil {
		t.Fatalf("Open error = %v, want nil (Open does not connect)", err)
	}
	defer s.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Open took %v: it must not touch the network", d)
	}
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Ping", s.Ping},
		{"User", func(ctx context.Context) error { _, err := s.User(ctx, 1); return err }},
		{"CreateFirstAdmin", func(ctx context.Context) error {
			_, _, err := s.CreateFirstAdmin(ctx, auth.NewUser{Username: "admin"})
			return err
		}},
		{"UpdatePreferences", func(ctx context.Context) error {
			_, err := s.UpdatePreferences(ctx, 1, auth.Preferences{"a": []byte("1")}, auth.MaxPreferenceBytes)
			return err
		}},
		{"RecordEvent", func(ctx context.Context) error { return s.RecordEvent(ctx, auth.Event{Type: auth.EventLogout}) }},
		{"Migrate", func(ctx context.Context) error { _, err := postgres.Migrate(ctx, s.Pool()); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := tc.call(t.Context())
			if d := time.Since(start); d >= 5*time.Second {
				t.Errorf("%s took %v, want < 5s", tc.name, d)
			}
			if got := auth.ErrorCode(err); got != auth.CodeUnavailable {
				t.Errorf("%s: ErrorCode = %q (error %v), want %q", tc.name, got, err, auth.CodeUnavailable)
			}
		})
	}
}

// A database that answers too slowly is as good as down for a request.
func TestQueryTimeoutIsUnavailable(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresURL(t)
	s, err := postgres.Open(t.Context(), url, postgres.Options{QueryTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open error = %v", err)
	}
	defer s.Close()
	u, err := s.CreateUser(t.Context(), auth.NewUser{Username: "stuck", CreatedAt: time.Now()})
	if err != nil {
		t.Fatalf("CreateUser error = %v", err)
	}

	// Another session holds the user's row, so the update has to wait.
	tx, err := s.Pool().Begin(t.Context())
	if err != nil {
		t.Fatalf("Begin error = %v", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(t.Context(), `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, u.ID); err != nil {
		t.Fatalf("lock row: %v", err)
	}

	start := time.Now()
	_, err = s.UpdateUser(t.Context(), u.ID, auth.UserPatch{FullName: new("x"), UpdatedAt: time.Now()})
	if got := auth.ErrorCode(err); got != auth.CodeUnavailable {
		t.Errorf("UpdateUser on a locked row: ErrorCode = %q (error %v), want %q", got, err, auth.CodeUnavailable)
	}
	if d := time.Since(start); d >= 5*time.Second {
		t.Errorf("UpdateUser took %v, want about the 300ms QueryTimeout", d)
	}
}

// A caller that gives up is not an outage: its error must not become a 503.
func TestCancelledContextIsNotUnavailable(t *testing.T) {
	t.Parallel()
	s := testenv.Postgres(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.User(ctx, 1)
	if err == nil {
		t.Fatal("User with a cancelled context: error = nil")
	}
	if got := auth.ErrorCode(err); got == auth.CodeUnavailable {
		t.Errorf("ErrorCode = %q (error %v), want anything but %q", got, err, auth.CodeUnavailable)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want it to wrap context.Canceled", err)
	}
}

func TestOpenMalformedURLHidesPassword(t *testing.T) {
	t.Parallel()
	_, err := postgres.Open(t.Context(), "postgres://user:s3cret@host:notaport/db", postgres.Options{})
	if err == nil {
		t.Fatal("Open(malformed URL) error = nil")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q contains the password", err)
	}
}

// Transaction pooling (PgBouncer, RDS Proxy) hands each transaction
// whichever server connection is free, so a named prepared statement left
// on one connection is missing on the next: unless asked to cache
// statements, the store must leave none.
func TestNoPreparedStatementOutlivesAQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		query string // appended to the database URL
		cache bool   // Options.StatementCache
		want  bool   // whether named statements are left on the connection
	}{
		{"default", "", false, false},
		{"statement cache asked for by the URL", "&default_query_exec_mode=cache_statement", false, true},
		{"statement cache asked for by the caller", "", true, true},
		{"the URL wins over the caller", "&default_query_exec_mode=cache_describe", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// One connection, so the check below sees the session every call ran on.
			s, err := postgres.Open(t.Context(), testenv.PostgresURL(t)+tc.query, postgres.Options{MaxConns: 1, StatementCache: tc.cache})
			if err != nil {
				t.Fatalf("Open error = %v", err)
			}
			defer s.Close()
			ctx, now := t.Context(), time.Now().UTC().Truncate(time.Microsecond)
			u, err := s.CreateUser(ctx, auth.NewUser{Username: "pooled", PasswordHash: "h", CreatedAt: now})
			if err != nil {
				t.Fatalf("CreateUser error = %v", err)
			}
			name := "Pooled"
			calls := []func() error{
				func() error { _, err := s.User(ctx, u.ID); return err },
				func() error { _, err := s.UserByUsername(ctx, "POOLED"); return err },
				func() error {
					_, err := s.UpdateUser(ctx, u.ID, auth.UserPatch{FullName: &name, UpdatedAt: now})
					return err
				},
				func() error { _, err := s.RecordLogin(ctx, u.ID, now, "h", ""); return err },
				func() error { _, err := s.ListUsers(ctx, auth.UserQuery{Search: "pool", Limit: 10}); return err },
				func() error {
					_, err := s.UpdatePreferences(ctx, u.ID, auth.Preferences{"theme": []byte(`"dark"`)}, auth.MaxPreferenceBytes)
					return err
				},
				func() error { _, err := s.Preferences(ctx, u.ID); return err },
				func() error {
					return s.RecordEvent(ctx, auth.Event{Type: auth.EventLogout, ActorID: &u.ID, TargetID: &u.ID})
				},
				func() error { _, err := s.Events(ctx, auth.EventQuery{Limit: 10}); return err },
			}
			for i, call := range calls {
				for range 2 { // the second run is the one a statement cache would serve
					if err := call(); err != nil {
						t.Fatalf("call %d: error = %v", i, err)
					}
				}
			}
			n := testenv.NamedStatements(t, s)
			if got := n > 0; got != tc.want {
				t.Errorf("%d named prepared statements on the connection; want any: %v", n, tc.want)
			}
		})
	}
}

// pgx would size each connection's statement caches for 512 statements;
// the store keeps them to what it has, unless the URL says otherwise.
func TestOpenCacheCapacities(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"", 64},
		{"&statement_cache_capacity=10&description_cache_capacity=10", 10},
	} {
		s, err := postgres.Open(t.Context(), "postgres://postgres@127.0.0.1:1/x?sslmode=disable"+tc.query, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		c := s.Pool().Config().ConnConfig
		if c.StatementCacheCapacity != tc.want || c.DescriptionCacheCapacity != tc.want {
			t.Errorf("URL %q: cache capacities %d and %d, want %d", tc.query, c.StatementCacheCapacity, c.DescriptionCacheCapacity, tc.want)
		}
		s.Close()
	}
}
