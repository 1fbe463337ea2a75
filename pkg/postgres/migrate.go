package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"authfn/infra"
)

// migrateLockKey names the session-level advisory lock held while
// migrating, so that instances starting together (a deploy, several local
// runners, parallel test binaries) apply each file once.
const migrateLockKey int64 = 0x6175_7468_666e_0001 // "authfn" + 1

// Migration is one versioned schema change.
type Migration struct {
	Version int    // NNNN of the file name
	Name    string // the file name without .sql: "0001_create_users"
	SQL     string
}

var migrationFile = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// Migrations returns the embedded PostgreSQL migrations in version order.
// Returns CodeInternal for a misnamed file or a repeated version.
func Migrations() ([]Migration, error) {
	return readMigrations(infra.PostgresMigrations, "migrations/postgres")
}

func readMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
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
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
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

// Migrate applies the pending embedded migrations, each in its own
// transaction together with its row in schema_migrations, and returns the
// names it applied. It holds an advisory lock on one connection throughout,
// so concurrent callers wait and then find nothing left to do. Versions in
// the database that this binary does not know (a newer deploy got there
// first) are left alone. Returns CodeUnavailable.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, translate(ctx, err, "migrate")
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
		return nil, translate(ctx, err, "migrate: lock")
	}
	defer func() {
		// A session lock outlives a cancelled ctx; if it cannot be released
		// politely, closing the connection releases it.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, migrateLockKey); err != nil {
			_ = conn.Hijack().Close(uctx)
		}
	}()

	if _, err := conn.Exec(ctx, `
		CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER     PRIMARY KEY,
			name       TEXT        NOT NULL,
			applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
		)`); err != nil {
		return nil, translate(ctx, err, "migrate: create schema_migrations")
	}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, translate(ctx, err, "migrate: read schema_migrations")
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, translate(ctx, err, "migrate: read schema_migrations")
	}

	var done []string
	for _, m := range ms {
		if slices.Contains(applied, m.Version) {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// No arguments: pgx sends the file with the simple protocol,
			// which allows several statements.
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return done, translate(ctx, err, "migrate: apply %s", m.Name)
		}
		done = append(done, m.Name)
	}
	return done, nil
}
