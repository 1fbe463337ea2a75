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
// password is checked (see Throttle), under three keys (docs/security.md 8):
// the client's address, the pair of username and address, and the
// username alone, whose much higher ceiling holds across all addresses.
type attempt struct {
	now      time.Time
	user     string        // the username's ceiling, across all addresses
	pair     string        // the username from this address (or from an unknown one)
	ip       string        // "" when the address is unknown
	userLock time.Duration // the locks this attempt started
	pairLock time.Duration
	ipLock   time.Duration
}

// counter is one of an attempt's keys, with its policy and the lock the
// attempt started on it.
type counter struct {
	key    string
	policy ThrottlePolicy
	lock   *time.Duration
}

// counters lists a's keys in the order they are counted: the address,
// then the pair, then the username. An attempt refused by an earlier key
// never touches a later one, so a locked address or pair adds nothing to
// the username's ceiling, which counts passwords actually tried.
func (s *core) counters(a *attempt) []counter {
	cs := make([]counter, 0, 3)
	if a.ip != "" {
		cs = append(cs, counter{a.ip, s.cfg.IPThrottle, &a.ipLock})
	}
	return append(cs, counter{a.pair, s.cfg.UserThrottle, &a.pairLock}, counter{a.user, s.cfg.UserCeiling, &a.userLock})
}

// beginAttempt counts an attempt against the client's address, the
// (username, address) pair and the username's ceiling, and refuses it with
// CodeRateLimited while any of them is locked.
func (s *core) beginAttempt(ctx context.Context, now time.Time, username string) (attempt, error) {
	ip := ipThrottleKey(ClientFromContext(ctx).IP)
	a := attempt{now: now, user: userThrottleKey(username), pair: pairThrottleKey(username, ip), ip: ip}
	cs := s.counters(&a)
	for i, c := range cs {
		wait, started, err := s.throttle.Attempt(ctx, c.key, c.policy, now)
		if err != nil {
			return a, err
		}
		if wait > 0 {
			// No password was tried: the keys already counted get their attempt back.
			for _, d := range cs[:i] {
				_ = s.throttle.Refund(ctx, d.key, now, *d.lock)
			}
			return a, rateLimited(wait)
		}
		*c.lock = started
	}
	return a, nil
}

func rateLimited(wait time.Duration) error {
	return &Error{Code: CodeRateLimited, Message: "Too many failed attempts; try again later.", RetryAfter: wait}
}

// attemptSucceeded clears the pair's count (docs/security.md 10) and gives
// the address and the username's ceiling their attempt back. Neither of
// those is cleared by a success: one valid account would reset an
// address's count for a password sprayer, and the user's own logins
// would reset the ceiling for someone guessing from many addresses.
func (s *core) attemptSucceeded(ctx context.Context, a attempt) error {
	if err := s.throttle.Reset(ctx, a.pair); err != nil {
		return err
	}
	if err := s.throttle.Refund(ctx, a.user, a.now, a.userLock); err != nil {
		return err
	}
	if a.ip == "" {
		return nil
	}
	return s.throttle.Refund(ctx, a.ip, a.now, a.ipLock)
}

// abandon gives an attempt back to every counter when it failed for a
// reason that says nothing about the password (a store or an upstream
// that cannot be reached): an outage must not lock people out.
func (s *core) abandon(ctx context.Context, a attempt) {
	ctx = context.WithoutCancel(ctx)
	for _, c := range s.counters(&a) {
		_ = s.throttle.Refund(ctx, c.key, a.now, *c.lock)
	}
}

// userThrottleKey counts a username without regard to case; it is hashed
// so that any input, however long or odd, makes a short, safe key.
func userThrottleKey(username string) string {
	u := sha256.Sum256([]byte(strings.ToLower(username)))
	return "u:" + hex.EncodeToString(u[:16])
}

// unknownAddress stands for the address in the pair key of a client whose
// address is unknown. All such clients share one pair per username, under
// the strict per-pair limit: one who hides their address gains no
// guesses. It cannot be mistaken for an address, whose keys start "ip:".
const unknownAddress = "?"

// pairThrottleKey counts a username (without regard to case) from one
// address key (ipThrottleKey, so an IPv6 client by its /64), or from an
// unknown address when ip is "". The address comes first and holds no NUL,
// so the first NUL ends it and no two pairs share a key; the hash keeps
// the key short and safe.
func pairThrottleKey(username, ip string) string {
	if ip == "" {
		ip = unknownAddress
	}
	p := sha256.Sum256([]byte(ip + "\x00" + strings.ToLower(username)))
	return "p:" + hex.EncodeToString(p[:16])
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
	return s.failed(ctx, a, e)
}

// failed writes e, the audit event of a failed attempt (already counted),
// and login.locked when the attempt started a lock, and returns the one
// answer every failure gets: for a wrong password (loginFailed) and a
// wrong second factor (mfaFailed) alike.
func (s *core) failed(ctx context.Context, a attempt, e Event) error {
	s.record(ctx, e)
	if locked := max(a.userLock, a.pairLock, a.ipLock); locked > 0 {
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
