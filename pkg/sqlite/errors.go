package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"authfn/pkg/auth"
)

// translate turns a driver error into the core's vocabulary so that nothing
// above this package sees a driver type: no rows is ErrNotFound, a unique
// violation is ErrUsernameTaken (the only unique key a caller can hit), a
// file that cannot be opened or stays locked is CodeUnavailable, and
// anything else is wrapped with what was being done. A caller that gave up
// (ctx done) gets an ordinary wrapped error.
func translate(ctx context.Context, err error, format string, args ...any) error {
	op := fmt.Sprintf(format, args...)
	var ae *auth.Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, auth.ErrNotFound)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return withCause(auth.ErrUsernameTaken, fmt.Errorf("%s: %w", op, err))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch se.Code() & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY:
		return auth.Unavailable("sqlite", fmt.Errorf("%s: %w", op, err))
	}
	return fmt.Errorf("%s: %w", op, err)
}

// withCause copies a sentinel and attaches the cause for the log; errors.Is
// still matches the sentinel because auth.Error compares code and message.
func withCause(sentinel *auth.Error, cause error) error {
	e := *sentinel
	e.Err = cause
	return &e
}
