package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
	"time"
)

// ThrottlePolicy says when failures lock a key and for how long.
type ThrottlePolicy struct {
	Max      int           // failures within Window that lock the key
	Window   time.Duration // a key's count is forgotten after this long without a failure
	BaseLock time.Duration // lock after the Max-th failure; doubles with each further one
	MaxLock  time.Duration // the longest lock
}

// Throttle counts login attempts where every instance sees them. An
// attempt is counted before the password is checked, in the same atomic
// step as the lock check, so that attempts sent at the same time cannot
// all pass a check made before any of them was counted; one that turns
// out not to be a failure is refunded. Times are passed in, not read from
// the store's clock, so that tests can fake them.
type Throttle interface {
	// Attempt counts one attempt for key at now unless the key is locked.
	// wait is how long the lock still runs (then nothing was counted); 0
	// means the attempt may go ahead. A count is forgotten once p.Window
	// passes without an attempt. The attempt that brings the count to
	// p.Max or beyond locks the key for min(p.BaseLock·2^(count−p.Max),
	// p.MaxLock) and reports that lock as started; it still goes ahead.
	Attempt(ctx context.Context, key string, p ThrottlePolicy, now time.Time) (wait, started time.Duration, err error)
	// Refund takes back an attempt made at now that was not a failure,
	// and lifts the lock it started (started, as Attempt returned it).
	Refund(ctx context.Context, key string, now time.Time, started time.Duration) error
	// Reset forgets key's attempts and lock.
	Reset(ctx context.Context, key string) error
}

// attempt is a sign-in attempt, counted against the throttle before the
// password is checked (see Throttle).
type attempt struct {
	now      time.Time
	user, ip string        // throttle keys; ip is "" when the address is unknown
	userLock time.Duration // the locks this attempt started
	ipLock   time.Duration
}

// beginAttempt counts an attempt against the client's address, then the
// username, and refuses it with CodeRateLimited while either is locked.
func (s *core) beginAttempt(ctx context.Context, now time.Time, username string) (attempt, error) {
	a := attempt{now: now, user: userThrottleKey(username), ip: ipThrottleKey(ClientFromContext(ctx).IP)}
	if a.ip != "" {
		wait, started, err := s.throttle.Attempt(ctx, a.ip, s.cfg.IPThrottle, now)
		if err != nil {
			return a, err
		}
		if wait > 0 {
			return a, rateLimited(wait)
		}
		a.ipLock = started
	}
	wait, started, err := s.throttle.Attempt(ctx, a.user, s.cfg.UserThrottle, now)
	if err != nil {
		return a, err
	}
	if wait > 0 {
		// No password was tried: the address gets its attempt back.
		if a.ip != "" {
			_ = s.throttle.Refund(ctx, a.ip, now, a.ipLock)
		}
		return a, rateLimited(wait)
	}
	a.userLock = started
	return a, nil
}

func rateLimited(wait time.Duration) error {
	return &Error{Code: CodeRateLimited, Message: "Too many failed attempts; try again later.", RetryAfter: wait}
}

// attemptSucceeded clears the username's count (docs/security.md 10) and gives
// the address its attempt back; an address's count is never cleared by a
// success, or one valid account would reset it for a password sprayer.
func (s *core) attemptSucceeded(ctx context.Context, a attempt) error {
	if err := s.throttle.Reset(ctx, a.user); err != nil {
		return err
	}
	if a.ip == "" {
		return nil
	}
	return s.throttle.Refund(ctx, a.ip, a.now, a.ipLock)
}

// abandon gives an attempt back to both counters when it failed for a
// reason that says nothing about the password (a store or an upstream
// that cannot be reached): an outage must not lock people out.
func (s *core) abandon(ctx context.Context, a attempt) {
	ctx = context.WithoutCancel(ctx)
	_ = s.throttle.Refund(ctx, a.user, a.now, a.userLock)
	if a.ip != "" {
		_ = s.throttle.Refund(ctx, a.ip, a.now, a.ipLock)
	}
}

// userThrottleKey counts a username without regard to case; it is hashed
// so that any input, however long or odd, makes a short, safe key.
func userThrottleKey(username string) string {
	u := sha256.Sum256([]byte(strings.ToLower(username)))
	return "u:" + hex.EncodeToString(u[:16])
}

// ipThrottleKey counts an IPv4 address alone and an IPv6 address by its
// /64: one subscriber usually holds a whole /64, and counting each of its
// 2^64 addresses apart would make the per-address limit meaningless.
func ipThrottleKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + a.String()
}

// loginFailed writes the audit events of a failed attempt (already
// counted) and returns the one answer every failure gets.
func (s *core) loginFailed(ctx context.Context, a attempt, username string, userID int64, reason string) error {
	e := Event{Type: EventLoginFailed, Username: auditName(username), Details: map[string]any{"reason": reason}}
	if userID != 0 {
		e.TargetID = &userID
	}
	s.record(ctx, e)
	if locked := max(a.userLock, a.ipLock); locked > 0 {
		e.Type, e.Details = EventLoginLocked, map[string]any{"locked_seconds": int(locked.Seconds())}
		s.record(ctx, e)
	}
	return ErrInvalidCredentials
}

// auditName is a name as typed at login, made fit for the audit log:
// valid UTF-8, no NUL (which PostgreSQL's text refuses), at most 64 bytes.
func auditName(name string) string {
	return truncate(strings.ReplaceAll(strings.ToValidUTF8(name, "\uFFFD"), "\x00", ""), 64)
}
