package sqlite

import (
	"context"
	"database/sql"
	"time"

	"authfn/infra"
	"authfn/pkg/sqlstore"
)

// Migration is one versioned schema change.
type Migration = sqlstore.Migration

// Migrations returns the embedded SQLite migrations in version order.
// A misnamed file or a repeated version is a plain error (a build
// problem, so auth.ErrorCode says CodeInternal).
func Migrations() ([]Migration, error) {
	return sqlstore.ReadMigrations(infra.SQLiteMigrations, "migrations/sqlite")
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
	for _, m := range sqlstore.Pending(ms, applied) {
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
