package postgres_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"authfn/pkg/postgres"
	"authfn/pkg/testenv"
)

// Instances that start together (a deploy, several local runners) must not
// race: every one succeeds and each migration is applied exactly once.
func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatalf("Migrations error = %v", err)
	}
	var want []string
	for _, m := range ms {
		want = append(want, m.Name)
	}
	url := testenv.EmptyPostgresURL(t)

	const n = 5
	applied := make([][]string, n)
	errs := make([]error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Go(func() {
			// A pool each, as separate processes would have.
			s, err := postgres.Open(t.Context(), url, postgres.Options{MaxConns: 1})
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			start.Wait()
			applied[i], errs[i] = postgres.Migrate(t.Context(), s.Pool())
		})
	}
	start.Done()
	wg.Wait()

	var all []string
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Migrate #%d error = %v", i, errs[i])
		}
		all = append(all, applied[i]...)
	}
	slices.Sort(all)
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("migrations applied over all callers (-want +got):\n%s", diff)
	}

	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(t.Context())
	rows, _ := conn.Query(t.Context(), `SELECT name FROM schema_migrations ORDER BY version`)
	recorded, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	if diff := cmp.Diff(want, recorded); diff != "" {
		t.Errorf("schema_migrations (-want +got):\n%s", diff)
	}

	s, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatalf("Open error = %v", err)
	}
	defer s.Close()
	again, err := postgres.Migrate(t.Context(), s.Pool())
	if err != nil || len(again) != 0 {
		t.Errorf("Migrate on a migrated database = %v, %v; want nothing applied", again, err)
	}
}

func TestMigrationsAreNumbered(t *testing.T) {
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatalf("Migrations error = %v", err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
	for i, m := range ms {
		if m.Version != i+1 {
			t.Errorf("migration %s has version %d, want %d (no gaps)", m.Name, m.Version, i+1)
		}
	}
}
