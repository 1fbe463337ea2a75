// Package sqlstore holds the parts of the SQL stores that do not depend on
// the dialect: turning a classified driver error into the core's
// vocabulary, reading the embedded migrations, the JSON kept in columns
// and the user patch. Packages postgres and sqlite keep only their SQL text
// and driver glue, so both stores answer alike (docs/architecture.md).
package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"authfn/pkg/auth"
)

// Kind is what a store recognised in its driver's error: the only
// distinctions the core cares about.
type Kind int

const (
	// Other is any error that is none of the kinds below.
	Other Kind = iota
	// NoRows means the statement found no row.
	NoRows
	// UniqueViolation means a unique key was hit; the only one a caller can
	// hit is the users' username.
	UniqueViolation
	// Unreachable means the database cannot serve us now (connection lost,
	// out of resources, locked, our deadline), as opposed to refusing this
	// particular statement.
	Unreachable
)

// Translate turns err, which the store classified as kind, into the core's
// vocabulary so that nothing above a store sees a driver type: an
// *auth.Error passes through, NoRows is ErrNotFound, UniqueViolation is
// ErrUsernameTaken, Unreachable is CodeUnavailable (a 503, not a 500)
// naming service, and anything else is wrapped with op, what was being
// done. ctx is the caller's context, not the method's bounded one: a caller
// that gave up is not a database outage, so an Unreachable error while ctx
// is done is only wrapped. Returns ErrNotFound (CodeNotFound),
// ErrUsernameTaken (CodeConflict), CodeUnavailable, or the *auth.Error in
// err.
func Translate(ctx context.Context, err error, kind Kind, service, op string) error {
	var ae *auth.Error
	if errors.As(err, &ae) {
		return err
	}
	switch kind {
	case NoRows:
		return fmt.Errorf("%s: %w", op, auth.ErrNotFound)
	case UniqueViolation:
		return WithCause(auth.ErrUsernameTaken, fmt.Errorf("%s: %w", op, err))
	case Unreachable:
		if ctx.Err() == nil {
			return auth.Unavailable(service, fmt.Errorf("%s: %w", op, err))
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// WithCause copies a sentinel and attaches the cause for the log; errors.Is
// still matches the sentinel because auth.Error compares code and message.
func WithCause(sentinel *auth.Error, cause error) error {
	e := *sentinel
	e.Err = cause
	return &e
}
