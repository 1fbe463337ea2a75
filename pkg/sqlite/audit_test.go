package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/sqlite"
)

// TestAuditQueriesUseIndexes: every filter combination of GET /audit is
// answered by searches of an index, in its order: no scan of the log and
// no sort of what was read, so a page costs the same at any size (as
// pkg/postgres's TestAuditQueriesReadBoundedRows shows for PostgreSQL).
func TestAuditQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "authfn.db")
	open(t, path)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	at := time.Date(2026, 6, 29, 12, 0, 0, 0, time.UTC)
	key := auth.EventKey{Time: at, ID: 99}
	for _, typ := range []string{"", auth.EventLoginFailed} {
		for _, user := range []int64{0, 7} {
			for _, w := range []struct{ since, until time.Time }{{}, {at.Add(-time.Hour), time.Time{}}, {at.Add(-time.Hour), at}} {
				for _, before := range []auth.EventKey{{}, key} {
					q := auth.EventQuery{Type: typ, UserID: user, Since: w.since, Until: w.until, Before: before, Limit: 51}
					query, args := sqlite.EventsQuery(q)
					rows, err := db.Query("EXPLAIN QUERY PLAN "+query, args...)
					if err != nil {
						t.Fatalf("explain %+v: %v", q, err)
					}
					type node struct {
						parent int
						detail string
					}
					plan := map[int]node{}
					var text []string
					for rows.Next() {
						var id, parent, unused int
						var detail string
						if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
							t.Fatal(err)
						}
						plan[id] = node{parent, detail}
						text = append(text, detail)
					}
					rows.Close()
					// reads tells a step that reads the log itself, other
					// than by the ids of a page already found.
					reads := func(d string) bool {
						return (strings.HasPrefix(d, "SCAN audit_events") || strings.HasPrefix(d, "SEARCH audit_events")) &&
							!strings.Contains(d, "INTEGER PRIMARY KEY")
					}
					// What each read of the log must search by, rather than filter.
					var by []string
					if typ != "" {
						by = append(by, "type=?")
					}
					if !w.since.IsZero() {
						by = append(by, "occurred_at>?")
					}
					bad := ""
					for _, n := range plan {
						if reads(n.detail) {
							for _, b := range by {
								if !strings.Contains(n.detail, b) {
									bad = "a read that filters instead of searching by " + b
								}
							}
							if user != 0 && !strings.Contains(n.detail, "actor_id=?") && !strings.Contains(n.detail, "target_id=?") {
								bad = "a read that does not search by the user"
							}
						}
						switch {
						case strings.HasPrefix(n.detail, "SCAN audit_events") && !strings.Contains(n.detail, " INDEX "):
							bad = "a scan of the table"
						case strings.HasPrefix(n.detail, "USE TEMP B-TREE"):
							// Sorting what a step read from the log sorts
							// everything that matched; sorting a page (the
							// halves of a user's, merged) is bounded.
							for _, m := range plan {
								if m.parent == n.parent && reads(m.detail) {
									bad = "a sort of what was read"
								}
							}
						}
					}
					if bad != "" {
						t.Errorf("Events(%+v): %s in the plan:\n%s", q, bad, strings.Join(text, "\n"))
					}
				}
			}
		}
	}
}
