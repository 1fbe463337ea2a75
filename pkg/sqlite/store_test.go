package sqlite_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
	"authfn/pkg/sqlite"
	"authfn/pkg/storetest"
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%s) error = %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close error = %v", err)
		}
	})
	return s
}

func TestSQLStore(t *testing.T) {
	t.Parallel()
	storetest.SQLStore(t, func(t *testing.T) storetest.SQLStores {
		return open(t, filepath.Join(t.TempDir(), "auth.db"))
	})
}

// The local runner keeps its state across restarts.
func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "auth.db")
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)

	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open error = %v", err)
	}
	u, err := s.CreateUser(t.Context(), auth.NewUser{Username: "kept", FullName: "Kept", CreatedAt: at})
	if err != nil {
		t.Fatalf("CreateUser error = %v", err)
	}
	if _, err := s.UpdatePreferences(t.Context(), u.ID, auth.Preferences{"theme": []byte(`"dark"`)}, auth.MaxPreferenceBytes); err != nil {
		t.Fatalf("UpdatePreferences error = %v", err)
	}
	if err := s.RecordEvent(t.Context(), auth.Event{Time: at, Type: auth.EventUserCreated, TargetID: &u.ID}); err != nil {
		t.Fatalf("RecordEvent error = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close error = %v", err)
	}

	s = open(t, path)
	got, err := s.User(t.Context(), u.ID)
	if err != nil {
		t.Fatalf("User after reopen: error = %v", err)
	}
	if diff := cmp.Diff(u, got); diff != "" {
		t.Errorf("user after reopen (-want +got):\n%s", diff)
	}
	p, err := s.Preferences(t.Context(), u.ID)
	if err != nil || string(p["theme"]) != `"dark"` {
		t.Errorf("Preferences after reopen = %s, %v; want theme \"dark\"", p, err)
	}
	es, err := s.Events(t.Context(), auth.EventQuery{Limit: 10})
	if err != nil || len(es) != 1 {
		t.Errorf("Events after reopen = %d events, %v; want 1", len(es), err)
	}
	assertMigratedOnce(t, path)

	// Readers must not wait for the writer: the file stays in WAL mode.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("sql.Open error = %v", err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}

// Two local runners started together on a fresh file must both come up.
func TestOpenConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "auth.db")
	const n = 4
	errs := make([]error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Go(func() {
			start.Wait()
			s, err := sqlite.Open(t.Context(), path)
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = errors.Join(s.Ping(t.Context()), s.Close())
		})
	}
	start.Done()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d error = %v", i, err)
		}
	}
	assertMigratedOnce(t, path)
}

func TestOpenPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rel  string
	}{
		{"missing directories are created", filepath.Join("a", "b", "c", "auth.db")},
		{"characters that mean something in a URI", filepath.Join("we?ird#dir %41", "auth?.db")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.rel)
			open(t, path)
			if _, err := os.Stat(path); err != nil {
				t.Errorf("database file: %v, want it at %s", err, path)
			}
		})
	}
}

func assertMigratedOnce(t *testing.T, path string) {
	t.Helper()
	ms, err := sqlite.Migrations()
	if err != nil {
		t.Fatalf("Migrations error = %v", err)
	}
	var want []string
	for _, m := range ms {
		want = append(want, m.Name)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("sql.Open error = %v", err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatalf("scan: %v", err)
		}
		got = append(got, name)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schema_migrations (-want +got):\n%s", diff)
	}
}
