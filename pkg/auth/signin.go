package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenPair is what login and refresh return.
type TokenPair struct {
	AccessToken      string `json:"access_token"`
	RefreshToken     string `json:"refresh_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
	SessionID        string `json:"session_id"`
	User             User   `json:"user"`
}

// Login checks a username and password and starts a session. Every failure
// (unknown user, wrong password, deactivated account, over-long password) is
// ErrInvalidCredentials after the same bcrypt work. Returns
// CodeMFARequired (with an mfa_token) for a user with MFA on, after the
// right password only; CodeRateLimited while the username or client IP is
// locked out, and CodeUnavailable when a store is down.
func (s *Sessions) Login(ctx context.Context, username, password string) (TokenPair, error) {
	return s.LoginWithCode(ctx, username, password, "")
}

// LoginWithCode is Login with the second factor given at once: for a user
// with MFA on, a non-empty code (TOTP or recovery) is checked after the
// right password, and a wrong one is ErrInvalidCredentials, the answer of
// a wrong password, counted alike. For a user without MFA the code is
// ignored. Returns what Login returns.
func (s *Sessions) LoginWithCode(ctx context.Context, username, password, code string) (TokenPair, error) {
	p, err := s.login(ctx, username, password, code)
	return p, s.loginFinished(err)
}

// loginFinished counts a login's outcome, unless it waits for its second
// step (mfa_required: LoginMFA counts how that ends), and returns err
// without the marker that is for the count only.
func (s *Sessions) loginFinished(err error) error {
	if s.metrics != nil && ErrorCode(err) != CodeMFARequired {
		s.metrics.LoginFinished(loginOutcome(err))
	}
	if up, ok := err.(upstreamFailed); ok {
		err = up.err
	}
	return err
}

func (s *Sessions) login(ctx context.Context, username, password, code string) (TokenPair, error) {
	now := s.now()
	a, err := s.beginAttempt(ctx, now, username)
	if err != nil {
		return TokenPair{}, err
	}
	u, err := s.lookup(ctx, username)
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.abandon(ctx, a)
		return TokenPair{}, err
	}
	found := err == nil
	// A user with a local password is checked here only: the upstream is
	// never asked about, and so can never take over, a local account.
	if s.upstream != nil && ValidUsername(username) && (!found || u.Source == s.upstream.Source()) {
		return s.upstreamLogin(ctx, a, username, password, code, u, found)
	}
	hash := u.PasswordHash // empty for an unknown user: check compares the dummy
	if ok := s.hasher.check(hash, password); !ok || !u.IsActive {
		reason := "wrong_password"
		switch {
		case u.ID == 0:
			reason = "unknown_user"
		case ok:
			reason = "inactive"
		}
		return TokenPair{}, s.loginFailed(ctx, a, username, u.ID, reason)
	}
	amr, err := s.secondFactor(ctx, a, u, code, now)
	if err != nil {
		return TokenPair{}, err
	}
	if err := s.attemptSucceeded(ctx, a); err != nil {
		return TokenPair{}, err
	}
	rehash := ""
	if s.hasher.stale(u.PasswordHash) {
		if rehash, err = s.hasher.hash(password); err != nil {
			return TokenPair{}, err
		}
	}
	return s.startSession(ctx, u, now, rehash, amr)
}

// LoginMFA is the second step of a login with MFA on: an mfa_token from
// the first step (used up by this call, whatever its outcome) and a TOTP
// or recovery code. A wrong or replayed code counts against the username's
// throttle like a wrong password. Returns ErrMFATokenInvalid for a token
// that is malformed, unknown, used or expired (or whose user was
// deactivated, changed password or lost MFA meanwhile), ErrMFACodeInvalid,
// CodeRateLimited, CodeUnavailable.
func (s *Sessions) LoginMFA(ctx context.Context, mfaToken, code string) (TokenPair, error) {
	p, err := s.loginMFA(ctx, mfaToken, code)
	return p, s.loginFinished(err)
}

func (s *Sessions) loginMFA(ctx context.Context, mfaToken, code string) (TokenPair, error) {
	now := s.now()
	u, err := s.takeMFAToken(ctx, mfaToken, now)
	if err != nil {
		return TokenPair{}, err
	}
	a, err := s.beginAttempt(ctx, now, u.Username)
	if err != nil {
		return TokenPair{}, err
	}
	method, reason, err := s.checkCode(ctx, u, code, now)
	switch {
	case errors.Is(err, ErrMFACodeInvalid):
		_ = s.mfaFailed(ctx, a, u, method, reason)
		return TokenPair{}, ErrMFACodeInvalid
	case err != nil:
		s.abandon(ctx, a)
		return TokenPair{}, err
	}
	if err := s.attemptSucceeded(ctx, a); err != nil {
		return TokenPair{}, err
	}
	return s.startSession(ctx, u, now, "", []string{AMRPassword, AMROTP})
}

// lookup finds a user by a name as typed at login. A name that cannot be
// valid is not looked up, but is still "not found" after the same work.
func (s *Sessions) lookup(ctx context.Context, username string) (User, error) {
	if !ValidUsername(username) {
		return User{}, ErrNotFound
	}
	return s.users.UserByUsername(ctx, username)
}

// startSession creates a session for u and issues its first token pair;
// amr says how the login authenticated u.
func (s *Sessions) startSession(ctx context.Context, u User, now time.Time, rehash string, amr []string) (TokenPair, error) {
	c := ClientFromContext(ctx)
	sid, err := randomToken(s.rand, 16)
	if err != nil {
		return TokenPair{}, err
	}
	sess := Session{
		ID: "s_" + sid, UserID: u.ID, Username: u.Username,
		CreatedAt: now, LastSeenAt: now,
		AbsoluteExpiresAt: now.Add(s.cfg.SessionMaxAge),
		IP:                truncate(c.IP, 64), UserAgent: truncate(c.UserAgent, 512),
		Admin: u.IsAdmin && u.IsActive, AMR: amr,
	}
	sess.ExpiresAt = minTime(now.Add(s.cfg.RefreshTTL), sess.AbsoluteExpiresAt)
	refresh, refreshHash, err := s.newRefreshToken(u.ID, sess.ID)
	if err != nil {
		return TokenPair{}, err
	}
	if err := s.sessions.CreateSession(ctx, sess, refreshHash); err != nil {
		return TokenPair{}, err
	}
	// The session exists before the record says so: a deactivation or a
	// password change that lands while this login hashes revokes sessions
	// only after its own write, so either it ends this session, or this
	// write sees the change and finds no row (ErrNotFound).
	cur, err := s.users.RecordLogin(ctx, u.ID, now, u.PasswordHash, rehash)
	if err != nil {
		// The client never sees this session; end it rather than leave it
		// to expire, so that a failed login leaves nothing behind.
		_, _ = s.sessions.RevokeSession(context.WithoutCancel(ctx), u.ID, sess.ID)
		if errors.Is(err, ErrNotFound) {
			return TokenPair{}, ErrInvalidCredentials
		}
		return TokenPair{}, err
	}
	if u, err = s.confirmAdmin(ctx, u, cur, sess.ID); err != nil {
		return TokenPair{}, err
	}
	if rehash != "" {
		s.logger.InfoContext(ctx, "password re-hashed at new cost", "user_id", u.ID)
	}
	u.LastLoginAt = &now
	s.record(ctx, Event{Type: EventLoginSucceeded, ActorID: &u.ID, TargetID: &u.ID, Username: u.Username, Details: map[string]any{"session_id": sess.ID}})
	return s.pair(u, sess, refresh, now)
}

// pair signs an access token for sess and assembles the response.
func (s *Sessions) pair(u User, sess Session, refresh string, now time.Time) (TokenPair, error) {
	jti, err := randomToken(s.rand, 16)
	if err != nil {
		return TokenPair{}, err
	}
	ttl := s.cfg.Tokens.TTL
	access, err := s.tokens.Sign(AccessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   strconv.FormatInt(u.ID, 10),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID:        jti,
		},
		SessionID: sess.ID,
		Username:  u.Username,
		Admin:     u.IsAdmin,
		AMR:       sessionAMR(sess),
	})
	if err != nil {
		return TokenPair{}, err
	}
	return TokenPair{
		AccessToken: access, RefreshToken: refresh, TokenType: "bearer",
		ExpiresIn:        int(ttl / time.Second),
		RefreshExpiresIn: int(sess.ExpiresAt.Sub(now) / time.Second),
		SessionID:        sess.ID,
		User:             u,
	}, nil
}

// sessionAMR is the amr claim of sess's tokens: what its login proved, and
// for a session created before the methods were kept, the password.
func sessionAMR(sess Session) []string {
	if len(sess.AMR) == 0 {
		return []string{AMRPassword}
	}
	return sess.AMR
}

// A refresh token reads "r1.<user id>.<session id>.<secret>". Naming the
// session lets a refresh go straight to one key in the user's Redis slot;
// the 256-bit secret is what proves possession, and only its hash is stored.
const refreshPrefix = "r1."

func (s *Sessions) newRefreshToken(userID int64, sessionID string) (token, hash string, err error) {
	secret, err := randomToken(s.rand, 32)
	if err != nil {
		return "", "", err
	}
	token = refreshPrefix + strconv.FormatInt(userID, 10) + "." + sessionID + "." + secret
	return token, hashToken(token), nil
}

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// validSessionID reports whether id is of the form this service makes:
// "s_" and 128 random bits in 22 characters of [A-Za-z0-9_-]. A loop, not
// a regular expression: every authenticated request checks one.
func validSessionID(id string) bool {
	if len(id) != 24 || id[:2] != "s_" {
		return false
	}
	for _, c := range []byte(id[2:]) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// parseRefreshToken splits a refresh token; ok is false for anything this
// service could not have issued.
func parseRefreshToken(t string) (userID int64, sessionID string, ok bool) {
	if len(t) > 256 || !strings.HasPrefix(t, refreshPrefix) {
		return 0, "", false
	}
	parts := strings.Split(t[len(refreshPrefix):], ".")
	if len(parts) != 3 || len(parts[2]) != 43 {
		return 0, "", false
	}
	id, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || id <= 0 || !validSessionID(parts[1]) {
		return 0, "", false
	}
	return id, parts[1], true
}

// Refresh rotates a refresh token: the old one stops working and a new
// pair is returned. Returns ErrInvalidToken for a token that is unknown,
// expired or of a deactivated user; ErrRefreshConflict when another request
// rotated the same token within the grace period (the session lives on);
// ErrTokenReused, after revoking the whole session, when a token rotated
// earlier comes back.
func (s *Sessions) Refresh(ctx context.Context, token string) (TokenPair, error) {
	p, err := s.refresh(ctx, token)
	if s.metrics != nil {
		s.metrics.RefreshFinished(refreshOutcome(err))
	}
	return p, err
}

func (s *Sessions) refresh(ctx context.Context, token string) (TokenPair, error) {
	now := s.now()
	userID, sid, ok := parseRefreshToken(token)
	if !ok {
		return TokenPair{}, ErrInvalidToken
	}
	next, nextHash, err := s.newRefreshToken(userID, sid)
	if err != nil {
		return TokenPair{}, err
	}
	sess, err := s.sessions.RotateRefresh(ctx, Rotation{
		UserID: userID, SessionID: sid, PresentedHash: hashToken(token), NewHash: nextHash,
		Now: now, Grace: s.cfg.RefreshReuseGrace, IdleTTL: s.cfg.RefreshTTL,
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return TokenPair{}, ErrInvalidToken
	case errors.Is(err, ErrTokenReused):
		s.record(ctx, Event{Type: EventRefreshReused, TargetID: &userID, Details: map[string]any{"session_id": sid}})
		return TokenPair{}, ErrTokenReused
	case err != nil:
		return TokenPair{}, err
	}
	u, err := s.users.User(ctx, userID)
	if errors.Is(err, ErrNotFound) || (err == nil && !u.IsActive) {
		_, _ = s.sessions.RevokeUserSessions(ctx, userID, "")
		return TokenPair{}, ErrInvalidToken
	}
	if err != nil {
		return TokenPair{}, err
	}
	return s.pair(u, sess, next, now)
}

// Authenticate verifies an access token and checks, in one store round
// trip, that its session still exists (marking it seen). Returns
// ErrInvalidToken for any token that fails, and CodeUnavailable when the
// session store is down: never a session it could not check.
func (s *Sessions) Authenticate(ctx context.Context, token string) (Session, error) {
	c, err := s.tokens.Parse(token)
	if err != nil {
		return Session{}, err
	}
	if !validSessionID(c.SessionID) {
		return Session{}, ErrInvalidToken
	}
	sess, err := s.sessions.TouchSession(ctx, c.UserID(), c.SessionID, s.now())
	if errors.Is(err, ErrNotFound) {
		return Session{}, ErrInvalidToken
	}
	if err != nil {
		return Session{}, err
	}
	sess.Current = true
	return sess, nil
}

// Logout ends the caller's session, or with all every session of the
// caller, and says how many it ended.
func (s *Sessions) Logout(ctx context.Context, sess Session, all bool) (int, error) {
	n := 0
	if all {
		var err error
		if n, err = s.sessions.RevokeUserSessions(ctx, sess.UserID, ""); err != nil {
			return 0, err
		}
	} else {
		ok, err := s.sessions.RevokeSession(ctx, sess.UserID, sess.ID)
		if err != nil {
			return 0, err
		}
		if ok {
			n = 1
		}
	}
	s.record(ctx, Event{Type: EventLogout, ActorID: &sess.UserID, TargetID: &sess.UserID, Username: sess.Username,
		Details: map[string]any{"session_id": sess.ID, "all": all, "revoked": n}})
	return n, nil
}

// JWKS returns the public key set (the signing key and the earlier ones of
// JWT_VERIFY_KEYS), or false when there is none (HS256 alone).
func (s *Sessions) JWKS() ([]byte, bool) { return s.tokens.JWKS() }

// SigningAlgorithms lists the algorithms access tokens may carry, the
// signing one first: what the OIDC discovery document advertises.
func (s *Sessions) SigningAlgorithms() []string { return s.tokens.Algorithms() }

// Issuer is the iss of every access token (JWT_ISSUER), which the OIDC
// discovery document must repeat exactly (docs/security.md 31).
func (s *Sessions) Issuer() string { return s.cfg.Tokens.Issuer }
