package auth

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"time"
)

// Config holds the rules of the service. pkg/app fills it from the environment.
type Config struct {
	Tokens            TokenConfig   // issuer, audience, access-token TTL and key
	RefreshTTL        time.Duration // idle lifetime of a session, renewed by each refresh
	SessionMaxAge     time.Duration // absolute lifetime of a session
	RefreshReuseGrace time.Duration // how long a just-rotated refresh token answers 409 rather than revoking
	BcryptCost        int
	UserThrottle      ThrottlePolicy // login failures per username
	IPThrottle        ThrottlePolicy // login failures per client IP
	AuditRetention    time.Duration  // cleanup deletes audit events older than this
}

// Stores are the backing stores the service runs on.
type Stores struct {
	Users       UserStore
	Preferences PreferenceStore
	Audit       AuditStore
	Sessions    SessionStore
	Throttle    Throttle
	Locker      Locker
}

// Service is the core: every rule of logins, tokens, sessions, users and
// preferences. It knows nothing of HTTP or Lambda.
type Service struct {
	cfg      Config
	users    UserStore
	prefs    PreferenceStore
	audit    AuditStore
	sessions SessionStore
	throttle Throttle
	locker   Locker
	upstream Upstream // nil: no fallback login
	tokens   *Tokens
	hasher   *hasher
	logger   *slog.Logger
	clock    func() time.Time
	rand     io.Reader
}

// Option changes how a Service is built; tests use them to fake the clock
// and randomness.
type Option func(*Service)

// WithClock makes the service read time from now.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.clock = now } }

// WithRandom makes the service read randomness from r.
func WithRandom(r io.Reader) Option { return func(s *Service) { s.rand = r } }

// WithUpstream lets users unknown here sign in with the password of an
// upstream identity provider (GPUStack), as docs/architecture.md's fallback says.
func WithUpstream(u Upstream) Option { return func(s *Service) { s.upstream = u } }

// WithLogger makes the service log to l (audit-write failures, rehashes).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.logger = l } }

// NewService returns a Service on st. It does no I/O, so a Lambda cold
// start pays nothing for it. Returns CodeInvalidRequest for a bad key or cost.
func NewService(cfg Config, st Stores, opts ...Option) (*Service, error) {
	s := &Service{
		cfg: cfg, users: st.Users, prefs: st.Preferences, audit: st.Audit,
		sessions: st.Sessions, throttle: st.Throttle, locker: st.Locker,
		logger: slog.New(slog.DiscardHandler), clock: time.Now, rand: rand.Reader,
	}
	for _, o := range opts {
		o(s)
	}
	t, err := NewTokens(cfg.Tokens, s.clock)
	if err != nil {
		return nil, err
	}
	s.tokens = t
	h, err := newHasher(cfg.BcryptCost, s.rand)
	if err != nil {
		return nil, &Error{Code: CodeInvalidRequest, Message: "bad bcrypt cost", Err: err}
	}
	s.hasher = h
	return s, nil
}

// now returns the time in UTC at the microsecond precision every store keeps,
// so that a value written and read back compares equal.
func (s *Service) now() time.Time { return s.clock().UTC().Truncate(time.Microsecond) }

// JWKS returns the public key set, or false when tokens use a shared secret.
func (s *Service) JWKS() ([]byte, bool) { return s.tokens.JWKS() }

// Client describes who sent the current request; the HTTP layer puts it in
// the context so that audit events can say where an action came from.
type Client struct {
	IP        string
	UserAgent string
	RequestID string
}

type clientKey struct{}

// WithClient returns ctx carrying c.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFromContext returns the request's client, or a zero Client.
func ClientFromContext(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}

type sessionKey struct{}

// WithSession returns ctx carrying the authenticated session.
func WithSession(ctx context.Context, s Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// SessionFromContext returns the authenticated session of the request. The
// HTTP layer only calls handlers that need it after authenticating, so a
// missing session is a wiring bug.
func SessionFromContext(ctx context.Context) (Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(Session)
	return s, ok
}

// record appends an audit event, filling time and client from ctx. A
// failed write is logged, not returned: the action it describes already
// happened, and refusing logins because the audit table is slow would turn
// a logging fault into an outage.
func (s *Service) record(ctx context.Context, e Event) {
	c := ClientFromContext(ctx)
	if sess, ok := SessionFromContext(ctx); ok && e.ActorID == nil {
		e.ActorID = &sess.UserID // an admin's request; the scheduler has no actor
	}
	e.Time = s.now()
	e.IP, e.UserAgent, e.RequestID = c.IP, c.UserAgent, c.RequestID
	if err := s.audit.RecordEvent(ctx, e); err != nil {
		s.logger.ErrorContext(ctx, "audit write failed", "event", e.Type, "err", err)
	}
}
