package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"authfn/pkg/sqlstore"
)

// translate turns a pgx error into the core's vocabulary (see
// sqlstore.Translate): this package only says which of the kinds the core
// tells apart a pgx error is. ctx is the caller's context, not the
// method's bounded one: a caller that gave up is not a database outage,
// while our own deadline running out is.
func translate(ctx context.Context, err error, format string, args ...any) error {
	return sqlstore.Translate(ctx, err, classify(err), "postgres", fmt.Sprintf(format, args...))
}

// classify recognises pgx's no rows, PostgreSQL's unique_violation (23505)
// and the errors of a database that cannot be reached.
func classify(err error) sqlstore.Kind {
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlstore.NoRows
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return sqlstore.UniqueViolation
	}
	if unreachable(err) {
		return sqlstore.Unreachable
	}
	return sqlstore.Other
}

// unreachable reports whether err means the database cannot serve us now,
// as opposed to refusing this particular statement.
func unreachable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"): // connection exception
			return true
		case strings.HasPrefix(pe.Code, "53"): // insufficient resources: too many connections, disk full
			return true
		case strings.HasPrefix(pe.Code, "57P"): // shutting down, starting up, database dropped
			return true
		case pe.Code == "57014": // query_canceled: our deadline, or the server's statement_timeout
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) ||
		errors.As(err, &ne) ||
		pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, pgconn.ErrConnClosed)
}
