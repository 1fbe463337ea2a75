// Package testenv gives tests real backing servers: a fresh PostgreSQL
// database per test here, Redis in redis.go. Helpers skip under go test
// -short and otherwise fail, saying how to start the server, when it is not
// there: a test that needs a database never passes without one.
package testenv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"authfn/pkg/postgres"
)

// DefaultPostgresURL is the admin database used when TEST_DATABASE_URL is
// not set: the server that infra/docker-compose.yml and the development
// machines run.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// templateLockKey names the advisory lock (on the admin database) under
// which the template is built: go test runs package binaries in parallel,
// and each may be the first to need it.
const templateLockKey int64 = 0x6175_7468_666e_0003 // "authfn" + 3

const postgresHint = "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` " +
	"(or `docker compose -f infra/docker-compose.yml up -d postgres`), or set TEST_DATABASE_URL to the URL of a " +
	"server's admin database; go test -short skips these tests"

// Postgres returns a store on a fresh, migrated database of its own,
// closed and dropped when t ends. It skips under -short and fails t when
// the server cannot be reached.
func Postgres(t testing.TB) *postgres.Store {
	t.Helper()
	u := PostgresURL(t)
	s, err := postgres.Open(t.Context(), u, postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatalf("testenv: open store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// PostgresURL returns the URL of a fresh database cloned from a template
// that holds the current migrations, dropped when t ends. Cloning a
// template costs a fraction of migrating, so every test can have its own
// database. It skips under -short and fails t when the server cannot be
// reached.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := adminURL(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	conn := connect(ctx, t, admin)
	defer conn.Close(context.WithoutCancel(ctx))
	tmpl, err := ensureTemplate(ctx, conn, admin)
	if err != nil {
		t.Fatalf("testenv: build template database: %v", err)
	}
	return cloneDatabase(ctx, t, conn, admin, tmpl)
}

// EmptyPostgresURL returns the URL of a fresh database with no tables,
// dropped when t ends: for testing migrations themselves. It skips under
// -short and fails t when the server cannot be reached.
func EmptyPostgresURL(t testing.TB) string {
	t.Helper()
	admin := adminURL(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	conn := connect(ctx, t, admin)
	defer conn.Close(context.WithoutCancel(ctx))
	return cloneDatabase(ctx, t, conn, admin, "template0")
}

func adminURL(t testing.TB) *url.URL {
	t.Helper()
	if testing.Short() {
		t.Skip("testenv: PostgreSQL tests skipped under -short")
	}
	raw := os.Getenv("TEST_DATABASE_URL")
	if raw == "" {
		raw = DefaultPostgresURL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("testenv: TEST_DATABASE_URL must be a postgres:// URL")
	}
	return u
}

// withDatabase returns admin's URL pointing at another database on the
// same server.
func withDatabase(admin *url.URL, name string) string {
	u := *admin
	u.Path = "/" + name
	return u.String()
}

func connect(ctx context.Context, t testing.TB, u *url.URL) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		t.Fatalf("testenv: TEST_DATABASE_URL %s: malformed", u.Redacted())
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = postgres.DefaultConnectTimeout
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("testenv: PostgreSQL at %s is not reachable: %v\n%s", u.Redacted(), err, postgresHint)
	}
	return conn
}

// ensureTemplate returns the name of the template database for the current
// migrations, building it if no one has. The name carries a hash of the
// migration files, so changing one makes a new template rather than
// reusing a stale one. The template is built under another name and
// renamed when complete, so a run that dies half-way never leaves a
// template that looks usable, and it is closed to connections, because
// CREATE DATABASE ... TEMPLATE fails while anyone is connected to it.
func ensureTemplate(ctx context.Context, conn *pgx.Conn, admin *url.URL) (string, error) {
	ms, err := postgres.Migrations()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range ms {
		fmt.Fprintf(h, "%d\x00%s\x00%s\x00", m.Version, m.Name, m.SQL)
	}
	name := "authfn_tmpl_" + hex.EncodeToString(h.Sum(nil))[:16]

	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, templateLockKey); err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, templateLockKey)

	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	for _, sql := range []string{
		`DROP DATABASE IF EXISTS ` + ident(building) + ` WITH (FORCE)`, // left by a run that died
		`CREATE DATABASE ` + ident(building) + ` TEMPLATE template0`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return "", err
		}
	}
	s, err := postgres.Open(ctx, withDatabase(admin, building), postgres.Options{MaxConns: 1})
	if err != nil {
		return "", err
	}
	_, err = postgres.Migrate(ctx, s.Pool())
	s.Close()
	if err != nil {
		return "", err
	}
	for _, sql := range []string{
		`ALTER DATABASE ` + ident(building) + ` RENAME TO ` + ident(name),
		`ALTER DATABASE ` + ident(name) + ` WITH ALLOW_CONNECTIONS false IS_TEMPLATE true`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return "", err
		}
	}
	return name, nil
}

// cloneDatabase creates a database from tmpl and drops it (closing any
// connection left open) when t ends.
func cloneDatabase(ctx context.Context, t testing.TB, conn *pgx.Conn, admin *url.URL, tmpl string) string {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	name := "authfn_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+ident(name)+` TEMPLATE `+ident(tmpl)); err != nil {
		t.Fatalf("testenv: create database %s from %s: %v", name, tmpl, err)
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := connect(ctx, t, admin)
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP DATABASE IF EXISTS `+ident(name)+` WITH (FORCE)`); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	return withDatabase(admin, name)
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// NamedStatements counts the named prepared statements on the connection
// of s that answers it: with statement caching a connection holds them,
// and with unnamed statements only, none does (none is left by the count
// itself either). Give s one connection to see the one its calls ran on.
func NamedStatements(t testing.TB, s *postgres.Store) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM pg_prepared_statements`).Scan(&n); err != nil {
		t.Fatalf("testenv: count prepared statements: %v", err)
	}
	return n
}
