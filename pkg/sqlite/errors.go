package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"authfn/pkg/sqlstore"
)

// translate turns a driver error into the core's vocabulary (see
// sqlstore.Translate): this package only says which of the kinds the core
// tells apart a driver error is. A caller that gave up (ctx done) gets an
// ordinary wrapped error.
func translate(ctx context.Context, err error, format string, args ...any) error {
	return sqlstore.Translate(ctx, err, classify(err), "sqlite", fmt.Sprintf(format, args...))
}

// classify recognises database/sql's no rows, SQLite's unique constraint
// and a file that cannot be opened or stays locked.
func classify(err error) sqlstore.Kind {
	if errors.Is(err, sql.ErrNoRows) {
		return sqlstore.NoRows
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return sqlstore.Other
	}
	if se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return sqlstore.UniqueViolation
	}
	switch se.Code() & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY:
		return sqlstore.Unreachable
	}
	return sqlstore.Other
}
