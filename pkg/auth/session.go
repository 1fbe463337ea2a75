package auth

import (
	"context"
	"time"
)

// Session is one login: the server-side state every access token points at.
// An access token is valid only while its session exists.
type Session struct {
	ID         string    `json:"id"`
	UserID     int64     `json:"user_id"`
	Username   string    `json:"username"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	// ExpiresAt is when the session ends unless refreshed: the idle expiry,
	// never later than the absolute one.
	ExpiresAt time.Time `json:"expires_at"`
	IP        string    `json:"ip_address"`
	UserAgent string    `json:"user_agent"`
	Current   bool      `json:"current"`
	// AbsoluteExpiresAt is the hard end that no refresh extends.
	AbsoluteExpiresAt time.Time `json:"-"`
	// Admin mirrors the user's admin flag (and is false for an inactive
	// user) in the session record, so that services verifying a token in
	// one Redis round trip (GET /verify, the Lambda authorizer) learn the
	// user's current rights without PostgreSQL: a change of the flag
	// updates every session of the user at once. The core's own admin
	// checks still read the user record.
	Admin bool `json:"-"`
	// AMR lists how the user authenticated at login (the amr claim: "pwd",
	// then "otp" after a second factor), kept so that tokens minted by a
	// refresh claim what the login proved. SessionStore.RotateRefresh
	// returns it; the other reads need not.
	AMR []string `json:"-"`
}

// Rotation asks a SessionStore to swap a session's refresh token.
type Rotation struct {
	UserID        int64
	SessionID     string
	PresentedHash string        // hash of the refresh token the client sent
	NewHash       string        // hash of the token that replaces it
	Now           time.Time     //
	Grace         time.Duration // how long a just-rotated token answers ErrRefreshConflict
	IdleTTL       time.Duration // the new idle expiry is Now+IdleTTL, capped at the absolute expiry
}

// SessionQuery selects a page of every user's live sessions, oldest first.
type SessionQuery struct {
	Cursor string // opaque, from SessionPage.NextCursor; empty for the first page
	Limit  int
	Now    time.Time
}

// SessionPage is one page of sessions; NextCursor is empty on the last page.
type SessionPage struct {
	Sessions   []Session
	NextCursor string
}

// SessionStats counts what is live now.
type SessionStats struct {
	ActiveSessions int64 `json:"active_sessions"`
	ActiveUsers    int64 `json:"active_users"`
}

// PruneResult counts what one pruning pass removed.
type PruneResult struct {
	ExpiredIndexEntries  int64 `json:"expired_index_entries"`
	OrphanedIndexEntries int64 `json:"orphaned_index_entries"`
	ExpiredUserEntries   int64 `json:"expired_user_entries"`
	Complete             bool  `json:"complete"` // false when the budget ran out first
}

// SessionStore keeps sessions and their refresh-token state. Every method
// that takes a time treats a session whose idle or absolute expiry is not
// after that time as gone, whatever the store's own TTLs say, so a fake clock
// works. Store failures are returned as Unavailable.
type SessionStore interface {
	// CreateSession stores s with the hash of its first refresh token.
	CreateSession(ctx context.Context, s Session, refreshHash string) error
	// TouchSession returns the session and sets its LastSeenAt to now, in one
	// round trip. Returns ErrNotFound if it does not exist or has expired.
	TouchSession(ctx context.Context, userID int64, sessionID string, now time.Time) (Session, error)
	// RotateRefresh atomically swaps the refresh token and renews the idle
	// expiry. Returns ErrNotFound for an unknown session or token,
	// ErrRefreshConflict for a token rotated within r.Grace, and
	// ErrTokenReused (after deleting the session) for one rotated earlier.
	RotateRefresh(ctx context.Context, r Rotation) (Session, error)
	// UserSessions lists one user's live sessions, oldest first.
	UserSessions(ctx context.Context, userID int64, now time.Time) ([]Session, error)
	// RevokeSession deletes one session and reports whether it existed.
	RevokeSession(ctx context.Context, userID int64, sessionID string) (bool, error)
	// RevokeByRefresh deletes one session, in one atomic step, only if
	// presentedHash is the hash of its current refresh token or of one it
	// rotated out, and reports whether it deleted it. Knowing the user and
	// session ids alone (an access token shows both) must end nothing.
	RevokeByRefresh(ctx context.Context, userID int64, sessionID, presentedHash string) (bool, error)
	// RevokeUserSessions deletes all of a user's sessions except keep (if
	// not empty) and says how many it deleted.
	RevokeUserSessions(ctx context.Context, userID int64, keep string) (int, error)
	// SetUserAdmin sets Admin on every existing session of the user, in
	// one round trip, and says how many sessions it changed (0 for a user
	// without sessions). It never brings back a session that is gone.
	SetUserAdmin(ctx context.Context, userID int64, admin bool) (int, error)
	// ListSessions returns a page of every user's live sessions ordered by
	// creation. A page costs the same however many sessions exist.
	// Returns CodeInvalidRequest for a malformed cursor.
	ListSessions(ctx context.Context, q SessionQuery) (SessionPage, error)
	// SessionStats counts live sessions and users with a live session.
	SessionStats(ctx context.Context, now time.Time) (SessionStats, error)
	// PruneSessions removes index entries of expired and orphaned sessions
	// in bounded batches until done or until the deadline of ctx is near.
	PruneSessions(ctx context.Context, now time.Time) (PruneResult, error)
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
}
