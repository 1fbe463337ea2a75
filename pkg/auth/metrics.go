package auth

import (
	"context"
	"errors"
)

// Metrics receives what the core counts for operators: how logins and
// refreshes end, audit writes that failed, and the live sessions and users
// that cleanup sees. pkg/metrics implements it for Prometheus and
// CloudWatch alike (docs/architecture.md, Metrics); the core knows only
// this interface. Every method must be cheap and must not block: it runs
// on the request path.
type Metrics interface {
	LoginFinished(o LoginOutcome)
	RefreshFinished(o RefreshOutcome)
	AuditWriteFailed(o AuditOutcome)
	// SessionsCounted reports the session index's counts, at cleanup time.
	SessionsCounted(s SessionStats)
}

// WithMetrics makes the core report to m. Without it nothing is counted
// and cleanup makes no extra store call for the counts.
func WithMetrics(m Metrics) Option { return func(c *core) { c.metrics = m } }

// LoginOutcome says how a login ended: the outcome label of
// authfn_logins_total.
type LoginOutcome string

// Login outcomes.
const (
	LoginSucceeded LoginOutcome = "succeeded"
	LoginFailed    LoginOutcome = "failed" // any invalid_credentials: wrong password, unknown user, inactive
	LoginLocked    LoginOutcome = "locked" // refused while the username or address is locked (429)
	// LoginUnavailable: a store could not be reached (503).
	LoginUnavailable LoginOutcome = "unavailable"
	// LoginUpstreamUnavailable: the upstream (GPUStack) could not be asked (503).
	LoginUpstreamUnavailable LoginOutcome = "upstream_unavailable"
	LoginError               LoginOutcome = "error" // anything else (500)
)

// LoginOutcomes lists every LoginOutcome, so that a sink can show each at
// zero before the first login.
func LoginOutcomes() []LoginOutcome {
	return []LoginOutcome{LoginSucceeded, LoginFailed, LoginLocked, LoginUnavailable, LoginUpstreamUnavailable, LoginError}
}

// RefreshOutcome says how a refresh ended: the outcome label of
// authfn_refresh_total.
type RefreshOutcome string

// Refresh outcomes.
const (
	RefreshRotated     RefreshOutcome = "rotated"
	RefreshConflict    RefreshOutcome = "conflict" // rotated by another request within the grace period (409)
	RefreshReused      RefreshOutcome = "reused"   // a rotated token came back: the session was revoked (401)
	RefreshInvalid     RefreshOutcome = "invalid"  // unknown, malformed, expired, or of a deactivated user (401)
	RefreshUnavailable RefreshOutcome = "unavailable"
	RefreshError       RefreshOutcome = "error"
)

// RefreshOutcomes lists every RefreshOutcome.
func RefreshOutcomes() []RefreshOutcome {
	return []RefreshOutcome{RefreshRotated, RefreshConflict, RefreshReused, RefreshInvalid, RefreshUnavailable, RefreshError}
}

// AuditOutcome says what became of an audit write that failed: the
// outcome label of authfn_audit_write_failures_total.
type AuditOutcome string

// Audit write outcomes.
const (
	AuditRetriedOK AuditOutcome = "retried_ok" // the one retry wrote it
	AuditLost      AuditOutcome = "lost"       // the retry failed too: the event is not in the log
)

// AuditOutcomes lists every AuditOutcome.
func AuditOutcomes() []AuditOutcome { return []AuditOutcome{AuditRetriedOK, AuditLost} }

// upstreamFailed marks the error of an upstream that could not be asked,
// so that the login's outcome tells it from a store outage; both are
// CodeUnavailable to the client.
type upstreamFailed struct{ err error }

func (u upstreamFailed) Error() string { return u.err.Error() }
func (u upstreamFailed) Unwrap() error { return u.err }

func loginOutcome(err error) LoginOutcome {
	var up upstreamFailed
	switch {
	case err == nil:
		return LoginSucceeded
	case errors.As(err, &up):
		return LoginUpstreamUnavailable
	}
	switch ErrorCode(err) {
	case CodeInvalidCredentials:
		return LoginFailed
	case CodeRateLimited:
		return LoginLocked
	case CodeUnavailable:
		return LoginUnavailable
	}
	return LoginError
}

func refreshOutcome(err error) RefreshOutcome {
	if err == nil {
		return RefreshRotated
	}
	switch ErrorCode(err) {
	case CodeInvalidToken:
		return RefreshInvalid
	case CodeRefreshConflict:
		return RefreshConflict
	case CodeTokenReused:
		return RefreshReused
	case CodeUnavailable:
		return RefreshUnavailable
	}
	return RefreshError
}

// countSessions reports the session index's counts when metrics are on. A
// failure is logged only: the cleanup it follows has done its work.
func (s *core) countSessions(ctx context.Context) {
	if s.metrics == nil {
		return
	}
	st, err := s.sessions.SessionStats(ctx, s.now())
	if err != nil {
		s.logger.WarnContext(ctx, "session counts for metrics failed", "err", err)
		return
	}
	s.metrics.SessionsCounted(st)
}
