package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"time"

	"authfn/infra"
)

// Migration is one versioned schema change.
type Migration struct {
	Version int    // NNNN of the file name
	Name    string // the file name without .sql: "0001_create_users"
	SQL     string
}

var migrationFile = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// Migrations returns the embedded SQLite migrations in version order.
// Returns CodeInternal for a misnamed file or a repeated version.
func Migrations() ([]Migration, error) {
	const dir = "migrations/sqlite"
	entries, err := fs.ReadDir(infra.SQLiteMigrations, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		m := migrationFile.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %s: name is not NNNN_verb_noun.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(infra.SQLiteMigrations, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		out = append(out, Migration{Version: v, Name: e.Name()[:len(e.Name())-len(".sql")], SQL: string(b)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share a version", out[i-1].Name, out[i].Name)
		}
	}
	return out, nil
}

// migrate applies the pending migrations in one IMMEDIATE transaction: the
// write lock, taken before anything is read, makes a second process opening
// the same file wait and then find nothing to do, and a failure leaves the
// schema as it was.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return translate(ctx, err, "sqlite: migrate")
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `
		CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at INTEGER NOT NULL
		) STRICT`); err != nil {
		return translate(ctx, err, "sqlite: migrate: create schema_migrations")
	}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return translate(ctx, err, "sqlite: migrate: read schema_migrations")
	}
	var applied []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return translate(ctx, err, "sqlite: migrate: read schema_migrations")
		}
		applied = append(applied, v)
	}
	if err := rows.Err(); err != nil {
		return translate(ctx, err, "sqlite: migrate: read schema_migrations")
	}
	rows.Close()
	for _, m := range ms {
		if slices.Contains(applied, m.Version) {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return translate(ctx, err, "sqlite: migrate: apply %s", m.Name)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.Version, m.Name, micros(time.Now())); err != nil {
			return translate(ctx, err, "sqlite: migrate: record %s", m.Name)
		}
	}
	if err := tx.Commit(); err != nil {
		return translate(ctx, err, "sqlite: migrate: commit")
	}
	return nil
}
