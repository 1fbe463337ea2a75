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
// out not to be a failure is released. Times are passed in, not read from
// the store's clock, so that tests can fake them. Each call is one round
// trip to a single server, whatever the number of keys.
type Throttle interface {
	// Attempt counts one attempt at now under each of counts' keys unless
	// one of them is locked: then it counts none of them, and wait is how
	// long the first lock, in counts' order, still runs. Otherwise wait
	// is 0, the attempt may go ahead, and started[i] is the lock it
	// started under counts[i] (0 for none): the attempt that brings a
	// key's count to its policy's Max or beyond locks the key for
	// min(BaseLock·2^(count−Max), MaxLock), and still goes ahead. A
	// count is forgotten once its Window passes without an attempt.
	Attempt(ctx context.Context, now time.Time, counts ...ThrottleCount) (wait time.Duration, started []time.Duration, err error)
	// Release gives back attempts made at now: each release takes back
	// one attempt under its key and lifts the lock that attempt started,
	// or, with Forget, forgets the key's attempts and lock.
	Release(ctx context.Context, now time.Time, rs ...ThrottleRelease) error
}

// ThrottleCount is a key to count an attempt under, and its policy.
type ThrottleCount struct {
	Key    string
	Policy ThrottlePolicy
}

// ThrottleRelease is an attempt given back under Key: Started is the lock
// the attempt started there (Attempt's started); Forget clears the key.
type ThrottleRelease struct {
	Key     string
	Started time.Duration
	Forget  bool
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
// attempt started under it.
type counter struct {
	key    string
	policy ThrottlePolicy
	lock   *time.Duration
}

// counters lists a's keys in the order they are checked: the address
// (when known), then the pair, then the username's ceiling. The throttle
// counts an attempt under all of them or, when one is locked, under none,
// so a locked address or pair adds nothing to the ceiling, which counts
// passwords actually tried.
func (s *core) counters(a *attempt) []counter {
	cs := make([]counter, 0, 3)
	if a.ip != "" {
		cs = append(cs, counter{a.ip, s.cfg.IPThrottle, &a.ipLock})
	}
	return append(cs, counter{a.pair, s.cfg.UserThrottle, &a.pairLock}, counter{a.user, s.cfg.UserCeiling, &a.userLock})
}

// beginAttempt counts an attempt against the client's address, the
// (username, address) pair and the username's ceiling, in one round trip,
// and refuses it with CodeRateLimited while any of them is locked.
func (s *core) beginAttempt(ctx context.Context, now time.Time, username string) (attempt, error) {
	ip := ipThrottleKey(ClientFromContext(ctx).IP)
	a := attempt{now: now, user: userThrottleKey(username), pair: pairThrottleKey(username, ip), ip: ip}
	cs := s.counters(&a)
	counts := make([]ThrottleCount, len(cs))
	for i, c := range cs {
		counts[i] = ThrottleCount{Key: c.key, Policy: c.policy}
	}
	wait, started, err := s.throttle.Attempt(ctx, now, counts...)
	switch {
	case err != nil:
		return a, err
	case wait > 0:
		return a, rateLimited(wait)
	}
	for i, c := range cs {
		*c.lock = started[i]
	}
	return a, nil
}

// release gives a's attempt back under every key, in one round trip; the
// pair is forgotten instead when forgetPair is set.
func (s *core) release(ctx context.Context, a attempt, forgetPair bool) error {
	cs := s.counters(&a)
	rs := make([]ThrottleRelease, len(cs))
	for i, c := range cs {
		rs[i] = ThrottleRelease{Key: c.key, Started: *c.lock, Forget: forgetPair && c.key == a.pair}
	}
	return s.throttle.Release(ctx, a.now, rs...)
}

func rateLimited(wait time.Duration) error {
	return &Error{Code: CodeRateLimited, Message: "Too many failed attempts; try again later.", RetryAfter: wait}
}

// attemptSucceeded clears the pair's count (docs/security.md 10) and gives
// the address and the username's ceiling their attempt back, in one round
// trip. Neither of those is cleared by a success: one valid account would
// reset an address's count for a password sprayer, and the user's own
// logins would reset the ceiling for someone guessing from many addresses.
func (s *core) attemptSucceeded(ctx context.Context, a attempt) error {
	return s.release(ctx, a, true)
}

// abandon gives an attempt back to every counter when it failed for a
// reason that says nothing about the password (a store or an upstream
// that cannot be reached): an outage must not lock people out.
func (s *core) abandon(ctx context.Context, a attempt) {
	_ = s.release(context.WithoutCancel(ctx), a, false)
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
