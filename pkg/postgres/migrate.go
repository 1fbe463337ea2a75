package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"authfn/infra"
	"authfn/pkg/sqlstore"
)

// migrateLockKey names the advisory lock held while migrating, so that instances starting together (a deploy, several local
// runners, parallel test binaries) apply each file once.
const migrateLockKey int64 = 0x6175_7468_666e_0001 // "authfn" + 1

// Migration is one versioned schema change.
type Migration = sqlstore.Migration

// Migrations returns the embedded PostgreSQL migrations in version order.
// A misnamed file or a repeated version is a plain error (a build
// problem, so auth.ErrorCode says CodeInternal).
func Migrations() ([]Migration, error) {
	return sqlstore.ReadMigrations(infra.PostgresMigrations, "migrations/postgres")
}

// Migrate applies the pending embedded migrations and returns the names
// it applied. Everything happens in one transaction under a
// transaction-level advisory lock: concurrent callers (a deploy, several
// runners, parallel test binaries) wait and then find nothing left to do,
// a failing file leaves the schema as it was, and, unlike a session lock,
// it works through PgBouncer in transaction mode and RDS Proxy. Versions
// in the database that this binary does not know (a newer deploy got there
// first) are left alone. Returns CodeUnavailable.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	var done []string
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		done = nil
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `
			CREATE TABLE IF NOT EXISTS schema_migrations (
				version    INTEGER     PRIMARY KEY,
				name       TEXT        NOT NULL,
				applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
			)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		for _, m := range sqlstore.Pending(ms, applied) {
			// No arguments: pgx sends the file with the simple protocol,
			// which allows several statements.
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return fmt.Errorf("record %s: %w", m.Name, err)
			}
			done = append(done, m.Name)
		}
		return nil
	})
	if err != nil {
		return nil, translate(ctx, err, "migrate")
	}
	return done, nil
}
