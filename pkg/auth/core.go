package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"time"
)

// Config holds the rules of the service. pkg/app fills it from the environment.
type Config struct {
	Tokens            TokenConfig   // issuer, audience, access-token TTL and key
	RefreshTTL        time.Duration // idle lifetime of a session, renewed by each refresh
	SessionMaxAge     time.Duration // absolute lifetime of a session
	RefreshReuseGrace time.Duration // how long a just-rotated refresh token answers 409 rather than revoking
	BcryptCost        int
	UserThrottle      ThrottlePolicy // login failures per username from one client address
	UserCeiling       ThrottlePolicy // login failures per username across all addresses
	IPThrottle        ThrottlePolicy // login failures per client IP
	AuditRetention    time.Duration  // cleanup deletes audit events older than this
	// MFAKey is MFA_KEY, the AES-256 key TOTP secrets are sealed with; nil
	// turns MFA operations off (ErrMFANotConfigured).
	MFAKey []byte
	// MFAIssuer names the service in authenticator apps (otpauth:// URIs).
	MFAIssuer string
	// AdminMFARequired is ADMIN_MFA=required: admins without MFA may use
	// their own account only (ErrMFAEnrollmentRequired elsewhere).
	AdminMFARequired bool
}

// Stores are the backing stores the service runs on.
type Stores struct {
	Users       UserStore
	Preferences PreferenceStore
	Audit       AuditStore
	Sessions    SessionStore
	Throttle    Throttle
	Locker      Locker
	// MFA (SQL) and MFAChallenges (Redis) hold multi-factor state; see mfa.go.
	MFA           MFAStore
	MFAChallenges MFAChallenges
}

// core is what every capability shares: the stores, the clock, the
// password hasher, the token signer and the audit log. Each capability
// (Sessions, Admin, Prefs, Maintenance, Setup) embeds it, so a rule that
// two capabilities need lives here once.
type core struct {
	cfg      Config
	users    UserStore
	prefs    PreferenceStore
	audit    AuditStore
	sessions SessionStore
	throttle Throttle
	locker   Locker
	upstream Upstream // nil: no fallback login
	// directory, when set, is re-checked by cleanup (upstream_recheck.go).
	directory UpstreamDirectory
	tokens    *Tokens // nil in a Setup, which signs nothing
	hasher    *hasher
	logger    *slog.Logger
	metrics   Metrics // nil: nothing counted
	clock     func() time.Time
	rand      io.Reader

	// Multi-factor authentication (mfa.go).
	mfa        MFAStore
	pending    MFAChallenges
	sealer     *sealer     // nil without MFA_KEY
	keyChecked atomic.Bool // MFA_KEY matched the database's key check (mfaSealer)
}

// Option changes how the core is built; tests use WithClock to fake time.
type Option func(*core)

// newCore builds the shared core. It does no I/O.
func newCore(cfg Config, st Stores, opts []Option) (*core, error) {
	c := &core{
		cfg: cfg, users: st.Users, prefs: st.Preferences, audit: st.Audit,
		sessions: st.Sessions, throttle: st.Throttle, locker: st.Locker,
		mfa: st.MFA, pending: st.MFAChallenges,
		logger: slog.New(slog.DiscardHandler), clock: time.Now, rand: rand.Reader,
	}
	for _, o := range opts {
		o(c)
	}
	h, err := newHasher(cfg.BcryptCost, c.rand)
	if err != nil {
		return nil, &Error{Code: CodeInvalidRequest, Message: "bad bcrypt cost", Err: err}
	}
	c.hasher = h
	if cfg.MFAKey != nil {
		if c.sealer, err = newSealer(cfg.MFAKey); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// WithClock makes the service read time from now.
func WithClock(now func() time.Time) Option { return func(c *core) { c.clock = now } }

// WithUpstream lets users unknown here sign in with the password of an
// upstream identity provider (GPUStack), as docs/architecture.md's fallback says.
func WithUpstream(u Upstream) Option { return func(c *core) { c.upstream = u } }

// WithUpstreamDirectory makes cleanup re-check the users provisioned from
// d's source against d's list of users (see Maintenance.Cleanup).
func WithUpstreamDirectory(d UpstreamDirectory) Option { return func(c *core) { c.directory = d } }

// WithLogger makes the service log to l (audit-write failures, rehashes).
func WithLogger(l *slog.Logger) Option { return func(c *core) { c.logger = l } }

// now returns the time in UTC at the microsecond precision every store keeps,
// so that a value written and read back compares equal.
func (s *core) now() time.Time { return s.clock().UTC().Truncate(time.Microsecond) }

// record appends an audit event, filling time and client from ctx. A
// failed write is retried once, at once, on a fresh context of its own
// (the first may have failed because the request's context ended, or on a
// connection that a restart closed), and counted either way. It is never
// returned: the action it describes already happened, and refusing logins
// because the audit table is slow would turn a logging fault into an
// outage.
func (s *core) record(ctx context.Context, e Event) {
	c := ClientFromContext(ctx)
	e.Time = s.now()
	e.IP, e.UserAgent, e.RequestID = c.IP, c.UserAgent, c.RequestID
	// What happened is recorded even when the caller has gone: a client
	// that hangs up after its login started a session must not erase
	// the event. The store's own deadline still bounds the write.
	err := s.audit.RecordEvent(context.WithoutCancel(ctx), e)
	if err == nil {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditRetryTimeout)
	defer cancel()
	if err2 := s.audit.RecordEvent(rctx, e); err2 != nil {
		s.logger.ErrorContext(ctx, "audit write failed", "event", e.Type, "err", err, "retry_err", err2)
		s.auditFailed(AuditLost)
		return
	}
	s.logger.WarnContext(ctx, "audit write failed, then succeeded on retry", "event", e.Type, "err", err)
	s.auditFailed(AuditRetriedOK)
}

// auditRetryTimeout bounds the one retry of a failed audit write: short,
// since a login waits for it, and the store's own deadline may be longer.
const auditRetryTimeout = time.Second

func (s *core) auditFailed(o AuditOutcome) {
	if s.metrics != nil {
		s.metrics.AuditWriteFailed(o)
	}
}

// withSessionsEnded runs change (a write to the user store) between two
// revocations of the user's sessions, sparing keep. Sessions live in Redis
// and users in PostgreSQL, so no transaction spans both: revoking first
// means a failed change can only have logged people out, never left a
// session alive that should have ended; revoking again afterwards ends any
// session that a login squeezed in between the two writes.
func (s *core) withSessionsEnded(ctx context.Context, userID int64, keep string, change func() error) (int, error) {
	n, err := s.sessions.RevokeUserSessions(ctx, userID, keep)
	if err != nil {
		return 0, err
	}
	if err := change(); err != nil {
		return n, err
	}
	m, err := s.sessions.RevokeUserSessions(ctx, userID, keep)
	if err != nil {
		s.logger.ErrorContext(ctx, "second revocation failed", "user_id", userID, "err", err)
	}
	return n + m, nil
}

func actorID(actor Session) *int64 {
	if actor.UserID == 0 {
		return nil
	}
	id := actor.UserID
	return &id
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// authorize returns the actor's current record if it is an active admin
// (with MFA on, under ADMIN_MFA=required). The zero Session (no actor) is
// never an admin. Returns ErrForbidden, ErrMFAEnrollmentRequired, or
// ErrInvalidToken if the actor's record is gone.
func (s *core) authorize(ctx context.Context, actor Session) (User, error) {
	if actor.UserID == 0 {
		return User{}, ErrForbidden
	}
	u, err := s.users.User(ctx, actor.UserID)
	if errors.Is(err, ErrNotFound) {
		return User{}, ErrInvalidToken
	}
	if err != nil {
		return User{}, err
	}
	if !u.IsAdmin || !u.IsActive {
		return User{}, ErrForbidden
	}
	// Read from the same current record as the admin flag, so an admin
	// whose MFA was reset is stopped at the next request.
	if s.cfg.AdminMFARequired && !u.MFAEnabled {
		return User{}, ErrMFAEnrollmentRequired
	}
	return u, nil
}
