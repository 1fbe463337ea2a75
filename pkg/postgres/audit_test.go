package postgres_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"authfn/pkg/auth"
	"authfn/pkg/postgres"
	"authfn/pkg/testenv"
)

// lastQuery remembers the last statement a store sent.
type lastQuery struct {
	mu   sync.Mutex
	sql  string
	args []any
}

func (l *lastQuery) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sql, l.args = d.SQL, d.Args
	return ctx
}

func (l *lastQuery) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (l *lastQuery) get() (string, []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sql, l.args
}

// planNode is the part of EXPLAIN (ANALYZE, FORMAT JSON) read here.
type planNode struct {
	NodeType       string     `json:"Node Type"`
	Relation       string     `json:"Relation Name"`
	Index          string     `json:"Index Name"`
	ActualRows     float64    `json:"Actual Rows"`
	ActualLoops    float64    `json:"Actual Loops"`
	RemovedByIndex float64    `json:"Rows Removed by Index Recheck"`
	RemovedByFilt  float64    `json:"Rows Removed by Filter"`
	Plans          []planNode `json:"Plans"`
}

// rowsRead walks a plan and returns how many rows its scans of table
// read (returned or filtered out), and the scans that are not index
// range scans.
func rowsRead(n planNode, table string) (read float64, bad []string) {
	if n.Relation == table {
		read += (n.ActualRows + n.RemovedByFilt + n.RemovedByIndex) * n.ActualLoops
		if n.NodeType != "Index Scan" && n.NodeType != "Index Only Scan" {
			bad = append(bad, n.NodeType)
		}
	}
	for _, c := range n.Plans {
		r, b := rowsRead(c, table)
		read, bad = read+r, append(bad, b...)
	}
	return read, bad
}

// TestAuditQueriesReadBoundedRows: on a log of 50,000 events, each page
// of GET /audit, whatever its filters, is index range scans that read a
// small multiple of the rows of the page, and GET /stats's hourly counts
// read at most 8 rows per type and hour: what makes them cost the same
// at any size (docs/api.md, "Cost").
func TestAuditQueriesReadBoundedRows(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var last lastQuery
	s, err := postgres.Open(ctx, testenv.PostgresURL(t), postgres.Options{Tracer: &last})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	now := time.Now().UTC().Truncate(time.Hour)
	// Thirty days of a busy log: mostly sign-ins by 500 users, failures
	// often of no known user, a few admin changes.
	if _, err := s.Pool().Exec(ctx, `
		INSERT INTO audit_events (occurred_at, type, actor_id, target_id)
		SELECT $1::timestamptz - g * interval '52 seconds',
		       CASE WHEN g % 100 = 0 THEN 'user.updated' WHEN g % 4 = 0 THEN 'login.failed' ELSE 'login.succeeded' END,
		       CASE WHEN g % 4 = 0 AND g % 100 <> 0 THEN NULL WHEN g % 100 = 0 THEN 1 ELSE 1 + g % 500 END,
		       CASE WHEN g % 12 = 0 THEN NULL ELSE 1 + g % 500 END
		FROM generate_series(1, 50000) g`, now); err != nil {
		t.Fatal(err)
	}
	// As autovacuum keeps an insert-mostly table: statistics (with the
	// migration's extended ones) and a visibility map, so that the
	// planner sees the index-only scans it has.
	if _, err := s.Pool().Exec(ctx, `VACUUM ANALYZE audit_events`); err != nil {
		t.Fatal(err)
	}
	mid := auth.EventKey{Time: now.Add(-300 * time.Hour), ID: 1 << 62}
	const limit = 51 // a page of 50 and one more to know there is another
	tests := []struct {
		name string
		q    auth.EventQuery
	}{
		{"first page", auth.EventQuery{}},
		{"a rare type", auth.EventQuery{Type: auth.EventUserUpdated}},
		{"a common type", auth.EventQuery{Type: auth.EventLoginSucceeded}},
		{"a type never recorded", auth.EventQuery{Type: auth.EventMFAReset}},
		{"a user", auth.EventQuery{UserID: 7}},
		{"a user and a rare type", auth.EventQuery{UserID: 1, Type: auth.EventUserUpdated}},
		{"a user who never was", auth.EventQuery{UserID: 999999}},
		{"a window long ago", auth.EventQuery{Since: now.Add(-600 * time.Hour), Until: now.Add(-599 * time.Hour)}},
		{"a type in a window", auth.EventQuery{Type: auth.EventLoginFailed, Since: now.Add(-500 * time.Hour), Until: now.Add(-400 * time.Hour)}},
		{"deep in the log", auth.EventQuery{Before: mid}},
		{"deep, a type", auth.EventQuery{Before: mid, Type: auth.EventLoginFailed}},
		{"deep, a user, a window", auth.EventQuery{Before: mid, UserID: 7, Since: now.Add(-700 * time.Hour)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Limit = limit
			if _, err := s.Events(ctx, tc.q); err != nil {
				t.Fatal(err)
			}
			read, bad := rowsRead(explain(t, s, &last), "audit_events")
			// A page reads at most a small multiple of itself: a user's
			// two scans, or a window read by time with a common type
			// filtered out; never a number that grows with the log.
			if len(bad) > 0 || read > 6*limit {
				t.Errorf("Events(%+v) read %.0f rows with %v; want index range scans reading at most %d", tc.q, read, bad, 6*limit)
			}
			if testing.Verbose() {
				t.Logf("%.0f rows read", read)
			}
		})
	}
	t.Run("hourly counts of 720 hours", func(t *testing.T) {
		types := []string{auth.EventLoginSucceeded, auth.EventLoginFailed, auth.EventLoginMFAFailed, auth.EventLoginLocked}
		got, err := s.CountEventsByHour(ctx, types, now.Add(-719*time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) < 700 {
			t.Fatalf("CountEventsByHour = %d rows, want about 720 x 2", len(got))
		}
		plan := explain(t, s, &last)
		read, bad := rowsRead(plan, "audit_event_hours")
		if len(bad) > 0 || read > 720*4*8 {
			t.Errorf("CountEventsByHour read %.0f rows with %v; want an index range scan of at most %d", read, bad, 720*4*8)
		}
		if read, _ := rowsRead(plan, "audit_events"); read > 0 {
			t.Errorf("CountEventsByHour read %.0f events; want none", read)
		}
	})
}

// explain runs EXPLAIN ANALYZE of the store's last statement with its
// arguments and returns the plan.
func explain(t *testing.T, s *postgres.Store, last *lastQuery) planNode {
	t.Helper()
	sql, args := last.get()
	var raw []byte
	if err := s.Pool().QueryRow(t.Context(), "EXPLAIN (ANALYZE, FORMAT JSON) "+sql, args...).Scan(&raw); err != nil {
		t.Fatalf("explain %s: %v", sql, err)
	}
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(raw, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("decode plan %s: %v", raw, err)
	}
	return plans[0].Plan
}
