package auth

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable, machine-readable error word. The HTTP layer maps each
// code to one status; clients switch on it, so values never change.
type Code string

// Error codes of the contract. Their string values are the "code" field of
// docs/api.md's problem documents.
const (
	CodeInvalidRequest     Code = "invalid_request"     // 400
	CodeInvalidCredentials Code = "invalid_credentials" // 401
	CodeInvalidToken       Code = "invalid_token"       // 401
	CodeTokenReused        Code = "token_reused"        // 401
	CodeMFARequired        Code = "mfa_required"        // 401, with an mfa_token
	CodeForbidden          Code = "forbidden"           // 403
	CodeNotFound           Code = "not_found"           // 404
	CodeConflict           Code = "conflict"            // 409
	CodeRefreshConflict    Code = "refresh_conflict"    // 409
	CodeValidation         Code = "validation_failed"   // 422
	CodeRateLimited        Code = "too_many_requests"   // 429
	CodeInternal           Code = "internal"            // 500
	CodeUnavailable        Code = "unavailable"         // 503
)

// Error is the error type of the core. Message is safe to show a client;
// Err is the cause, logged but never sent.
type Error struct {
	Code       Code
	Message    string
	Fields     map[string]string // per-field problems (CodeValidation)
	RetryAfter time.Duration     // CodeRateLimited
	MFAToken   string            // CodeMFARequired: what POST /login/mfa takes with a code
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrX) match any *Error with the same code and
// message as the sentinel ErrX, so a store may build a copy of a sentinel
// with its cause attached (Err) and callers still recognise it. Two errors
// of one code with different messages (ErrUsernameTaken and ErrLastAdmin
// are both CodeConflict) stay apart.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == e.Message
}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal for any other error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Errorf returns an *Error with the given code and a client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Unavailable wraps a store failure (refused connection, timeout) so it is
// answered with 503 and never as a 500.
func Unavailable(what string, cause error) *Error {
	return &Error{Code: CodeUnavailable, Message: "A backing store is unavailable; try again shortly.", Err: fmt.Errorf("%s: %w", what, cause)}
}

// Sentinel errors shared by the core and the stores.
var (
	// ErrNotFound is returned by stores for a missing user or session.
	ErrNotFound = &Error{Code: CodeNotFound, Message: "Not found."}
	// ErrUsernameTaken is returned when a username exists without regard to case.
	ErrUsernameTaken = &Error{Code: CodeConflict, Message: "That username is taken."}
	// ErrLastAdmin is returned when a change would leave no active admin.
	ErrLastAdmin = &Error{Code: CodeConflict, Message: "The last active admin cannot be deactivated, demoted or deleted."}
	// ErrRefreshConflict is returned to a refresh that lost a concurrent rotation within the grace period.
	ErrRefreshConflict = &Error{Code: CodeRefreshConflict, Message: "This refresh token was just rotated by another request; use the newest tokens."}
	// ErrTokenReused is returned when a rotated refresh token comes back after the grace period; the session is revoked.
	ErrTokenReused = &Error{Code: CodeTokenReused, Message: "This refresh token was already used; the session has been revoked."}
	// ErrInvalidCredentials is the one answer to every failed login.
	ErrInvalidCredentials = &Error{Code: CodeInvalidCredentials, Message: "Invalid username or password."}
	// ErrInvalidToken is the one answer to every rejected access or refresh token.
	ErrInvalidToken = &Error{Code: CodeInvalidToken, Message: "The token is missing, malformed, expired or revoked."}
	// ErrForbidden is returned to a non-admin on an admin operation.
	ErrForbidden = &Error{Code: CodeForbidden, Message: "Admin rights are required."}
	// ErrPreferencesTooLarge is returned when merged preferences exceed the per-user bound.
	ErrPreferencesTooLarge = &Error{Code: CodeValidation, Message: "Preferences would exceed 64 KiB.", Fields: map[string]string{"preferences": "exceeds 65536 bytes"}}
)
