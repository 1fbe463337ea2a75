package users_test

import (
	"fmt"
	"net/url"
	"testing"

	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

// TestAuditAndStatsCost: GET /audit, whatever its filters, and GET /stats
// cost the same number of round trips on a log of a handful of events as
// on one of 20,000 (docs/api.md, "Cost"; pkg/postgres's
// TestAuditQueriesReadBoundedRows shows that each of those queries also
// reads a bounded number of rows).
func TestAuditAndStatsCost(t *testing.T) {
	t.Parallel()
	env, trips := testenv.Counted(t)
	pg := env.SQL
	f := &fixture{Served: env.Serve(t, web.Options{}, "LoginFunction", "UsersFunction")}
	f.admin = f.CreateUser(t, "root", adminPassword, true)
	f.relogin(t)

	requests := []struct {
		query          string
		redis, queries int64
	}{
		// Session check; the admin check of the middleware and the
		// core's own; then the one read of the operation.
		{"/audit", 1, 3},
		{"/audit?type=login.failed", 1, 3},
		{"/audit?user_id=" + fmt.Sprint(f.admin.ID), 1, 3},
		{"/audit?since=2020-01-01T00:00:00Z&until=2099-01-01T00:00:00Z&type=logout&user_id=7", 1, 3},
		// Session check and the session index's counts; the two admin
		// checks, the hourly counts and the user counts.
		{"/stats", 2, 4},
		{"/stats?hours=720", 2, 4},
	}
	measure := func(t *testing.T) []string {
		var got []string
		for _, rq := range requests {
			f.as(t, "GET", base+rq.query, nil).Want(200) // warm up the session script
			trips.Reset()
			f.as(t, "GET", base+rq.query, nil).Want(200)
			got = append(got, fmt.Sprintf("%s: %d Redis, %d PostgreSQL", rq.query, trips.Redis(), trips.Postgres()))
			if trips.Redis() != rq.redis || trips.Postgres() != rq.queries {
				t.Errorf("GET %s: %d Redis round trips and %d PostgreSQL queries, want %d and %d",
					rq.query, trips.Redis(), trips.Postgres(), rq.redis, rq.queries)
			}
		}
		return got
	}
	small := measure(t)
	if _, err := pg.Pool().Exec(t.Context(), `
		INSERT INTO audit_events (occurred_at, type, actor_id, target_id)
		SELECT now() - g * interval '2 minutes', (ARRAY['login.succeeded', 'login.failed', 'login.locked', 'logout'])[1 + g % 4],
		       nullif(g % 50, 0), 1 + g % 50
		FROM generate_series(1, 20000) g`); err != nil {
		t.Fatal(err)
	}
	large := measure(t)
	for i := range small {
		if small[i] != large[i] {
			t.Errorf("with 20,000 more events %s, was %s", large[i], small[i])
		}
	}
	var st struct {
		Logins []struct{ Succeeded, Failed, Locked int64 }
	}
	f.as(t, "GET", base+"/stats?"+url.Values{"hours": {"720"}}.Encode(), nil).Want(200).JSON(&st)
	var n int64
	for _, l := range st.Logins {
		n += l.Succeeded + l.Failed + l.Locked
	}
	if n < 15000 {
		t.Errorf("the last 720 hours count %d sign-in events, want the 15,000 generated (and the root's)", n)
	}
}
