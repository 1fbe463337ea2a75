package auth

import (
	"context"
	"time"
)

// Event types written to the audit log.
const (
	EventLoginSucceeded   = "login.succeeded"
	EventLoginFailed      = "login.failed"
	EventLoginLocked      = "login.locked"
	EventLogout           = "logout"
	EventRefreshReused    = "refresh.reused"
	EventPasswordChanged  = "password.changed"
	EventSessionRevoked   = "session.revoked"
	EventSessionsRevoked  = "sessions.revoked"
	EventUserCreated      = "user.created"
	EventUserUpdated      = "user.updated"
	EventUserDeleted      = "user.deleted"
	EventCleanupRun       = "cleanup.run"
	EventUserProvisioned  = "user.provisioned"
	EventUserSynchronised = "user.synchronised"
	EventUpstreamFailed   = "upstream.failed"
	EventLoginMFAFailed   = "login.mfa_failed"
	EventMFAEnabled       = "mfa.enabled"
	EventMFADisabled      = "mfa.disabled"
	EventMFAReset         = "mfa.reset"
)

// Event is one audit record: who did what to whom, from where.
type Event struct {
	ID        int64          `json:"id"`
	Time      time.Time      `json:"time"`
	Type      string         `json:"type"`
	ActorID   *int64         `json:"actor_id"`
	TargetID  *int64         `json:"target_id"`
	Username  string         `json:"username,omitempty"` // the name tried at login, or the target's
	IP        string         `json:"ip_address,omitempty"`
	UserAgent string         `json:"user_agent,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
	Details   map[string]any `json:"details,omitempty"`
}

// EventQuery selects audit events newest first.
type EventQuery struct {
	Type     string // only this type, if set
	TargetID int64  // only this target, if set
	BeforeID int64  // only ids below this, if set
	Limit    int
}

// AuditStore keeps the audit log.
type AuditStore interface {
	// RecordEvent appends e (its ID is assigned by the store).
	RecordEvent(ctx context.Context, e Event) error
	// Events returns events matching q, newest first.
	Events(ctx context.Context, q EventQuery) ([]Event, error)
	// DeleteEventsBefore removes at most limit events older than t and says how many.
	DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int, error)
}
