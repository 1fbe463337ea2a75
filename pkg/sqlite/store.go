// Package sqlite keeps users, preferences and the audit log in one SQLite
// file through modernc.org/sqlite (pure Go, no cgo). It is the embedded
// default of the local runner: it implements the same auth.UserStore,
// auth.PreferenceStore and auth.AuditStore as package postgres and passes
// the same contract tests, with the schema in infra/migrations/sqlite.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"authfn/pkg/auth"
)

// busyTimeout is how long a writer waits for another writer before the
// call fails with CodeUnavailable. Writes are short, so reaching it means
// something is stuck.
const busyTimeout = 5 * time.Second

// Store is the SQLite implementation of the core's SQL-backed stores. It is
// safe for concurrent use; writes are serialised by SQLite.
type Store struct {
	db *sql.DB
}

var (
	_ auth.UserStore       = (*Store)(nil)
	_ auth.PreferenceStore = (*Store)(nil)
	_ auth.AuditStore      = (*Store)(nil)
)

// Open opens (creating it and its directory if needed) the database file
// at path and applies the pending migrations. The file is in WAL mode, so
// readers never wait for the writer; every connection has foreign keys on
// and a busy timeout; every transaction begins IMMEDIATE, taking the write lock
// up front, which serialises read-modify-write sequences such as the
// last-admin check and makes two of them unable to deadlock on an upgrade.
// Returns CodeUnavailable if the file cannot be opened or stays locked.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, auth.Unavailable("sqlite", err)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "synchronous(NORMAL)") // WAL stays consistent; a power cut may lose the last commits
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	// A file: URI with an escaped path, so that a '?' or '#' in the path
	// cannot be taken for the start of the parameters.
	dsn := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := useWAL(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db}, nil
}

// useWAL switches the file to write-ahead logging, which lasts in the file,
// so connections opened later need not ask. It is done once here and not
// per connection in the DSN because switching needs the file to itself and
// SQLite then answers SQLITE_BUSY at once, without waiting out the busy
// timeout, when another process is opening the same new file: so retry.
func useWAL(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		var mode string
		err := db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
		if err == nil {
			if !strings.EqualFold(mode, "wal") {
				return fmt.Errorf("sqlite: journal mode is %q, want wal", mode)
			}
			return nil
		}
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return translate(ctx, err, "sqlite: set journal mode")
		}
		select {
		case <-ctx.Done():
			return translate(ctx, ctx.Err(), "sqlite: set journal mode")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database file can be read. Returns CodeUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations LIMIT 1`).Scan(&one); err != nil {
		return translate(ctx, err, "ping")
	}
	return nil
}

// inTx runs fn in one IMMEDIATE transaction.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Times are stored as unix microseconds: PostgreSQL's precision, so that
// both stores return equal values, and integers compare and index simply.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }
