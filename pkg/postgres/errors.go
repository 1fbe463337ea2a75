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

	"authfn/pkg/auth"
)

// translate turns a pgx error into the core's vocabulary so that nothing
// above this package sees a driver type: no rows is ErrNotFound, a unique
// violation is ErrUsernameTaken (the only unique key a caller can hit),
// a database that cannot be reached is CodeUnavailable (a 503, not a 500),
// and anything else is wrapped with what was being done. ctx is the
// caller's context, not the method's bounded one: a caller that gave up is
// not a database outage, while our own deadline running out is.
func translate(ctx context.Context, err error, format string, args ...any) error {
	op := fmt.Sprintf(format, args...)
	var ae *auth.Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, auth.ErrNotFound)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return withCause(auth.ErrUsernameTaken, fmt.Errorf("%s: %w", op, err))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if unreachable(err) {
		return auth.Unavailable("postgres", fmt.Errorf("%s: %w", op, err))
	}
	return fmt.Errorf("%s: %w", op, err)
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

// withCause copies a sentinel and attaches the cause for the log; errors.Is
// still matches the sentinel because auth.Error compares code and message.
func withCause(sentinel *auth.Error, cause error) error {
	e := *sentinel
	e.Err = cause
	return &e
}
