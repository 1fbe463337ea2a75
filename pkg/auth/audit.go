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
	EventMFAEnabled       = "mfa.enabled"
	EventMFADisabled      = "mfa.disabled"
	EventMFAReset         = "mfa.reset"
	EventLoginMFAFailed   = "login.mfa_failed"
)

// EventTypes returns every event type, the values GET /audit's type filter
// takes (the OpenAPI document's EventType lists the same, and a test holds
// the two and this file's constants to each other).
func EventTypes() []string {
	return []string{
		EventLoginSucceeded, EventLoginFailed, EventLoginLocked, EventLoginMFAFailed, EventLogout,
		EventRefreshReused, EventPasswordChanged, EventSessionRevoked, EventSessionsRevoked,
		EventUserCreated, EventUserUpdated, EventUserDeleted, EventUserProvisioned, EventUserSynchronised,
		EventUpstreamFailed, EventMFAEnabled, EventMFADisabled, EventMFAReset, EventCleanupRun,
	}
}

// Event is one audit record: who did what to whom, from where.
type Event struct {
	ID        int64          `json:"id"`
	Time      time.Time      `json:"time"`
	Type      string         `json:"type"`
	ActorID   *int64         `json:"actor_id"`
	TargetID  *int64         `json:"target_id"`
	Username  string         `json:"username"` // the name tried at login, or the target's
	IP        string         `json:"ip_address"`
	UserAgent string         `json:"user_agent"`
	RequestID string         `json:"request_id"`
	Details   map[string]any `json:"details"`
}

// EventQuery selects audit events newest first: by Time, and by ID among
// events of the same time.
type EventQuery struct {
	Type   string    // only this type, if set
	UserID int64     // only events whose actor or target is this user, if set
	Since  time.Time // only events at or after this time, if not zero
	Until  time.Time // only events before this time, if not zero
	Before EventKey  // only events after this one in the order, if its ID is set
	Limit  int
}

// EventKey is an event's place in the newest-first order of the log: the
// keyset of GET /audit's cursor.
type EventKey struct {
	Time time.Time
	ID   int64
}

// HourCount is how many events of one type occurred in one UTC hour.
type HourCount struct {
	Type  string
	Hour  time.Time // the start of the hour
	Count int64
}

// AuditStore keeps the audit log.
type AuditStore interface {
	// RecordEvent appends e (its ID is assigned by the store).
	RecordEvent(ctx context.Context, e Event) error
	// Events returns events matching q, newest first. A page costs the
	// same however many events the log holds.
	Events(ctx context.Context, q EventQuery) ([]Event, error)
	// CountEventsByHour counts the events of the given types in each UTC
	// hour that starts in [from, to), leaving out hours without any. Its
	// cost depends on the number of hours and types, not of events.
	CountEventsByHour(ctx context.Context, types []string, from, to time.Time) ([]HourCount, error)
	// DeleteEventsBefore removes at most limit events older than t and says how many.
	DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int, error)
}
