package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"authfn/pkg/qrcode"
	"authfn/pkg/totp"
)

// MFAEnrolmentStart is what starting an enrolment shows the user, this
// once: the secret, as text and as the otpauth:// URI in a QR code.
type MFAEnrolmentStart struct {
	Secret     string `json:"secret"`      // base32, for typing into an app
	OTPAuthURL string `json:"otpauth_url"` // the Key URI the QR code holds
	QRPNG      string `json:"qr_png"`      // data:image/png;base64,...
}

// StartMFAEnrolment makes a new TOTP secret for the caller after checking
// their password, and keeps it (sealed) as the pending enrolment, which
// replaces any earlier one, until ActivateMFA sees a code made with it. A
// wrong password is ErrInvalidCredentials and counts against the login
// throttle, as for a password change; a user provisioned from GPUStack
// proves theirs to GPUStack. Returns ErrMFAEnabled when MFA is on,
// CodeRateLimited, CodeUnavailable, ErrMFANotConfigured.
func (s *Sessions) StartMFAEnrolment(ctx context.Context, sess Session, currentPassword string) (MFAEnrolmentStart, error) {
	now := s.now()
	seal, err := s.mfaSealer(ctx)
	if err != nil {
		return MFAEnrolmentStart{}, err
	}
	a, err := s.beginAttempt(ctx, now, sess.Username)
	if err != nil {
		return MFAEnrolmentStart{}, err
	}
	u, err := s.Me(ctx, sess)
	if err == nil && u.MFAEnabled {
		err = ErrMFAEnabled
	}
	if err != nil {
		s.abandon(ctx, a)
		return MFAEnrolmentStart{}, err
	}
	if err := s.checkOwnPassword(ctx, a, u, currentPassword); err != nil {
		return MFAEnrolmentStart{}, err
	}
	if err := s.attemptSucceeded(ctx, a); err != nil {
		return MFAEnrolmentStart{}, err
	}
	secret, err := randomBytes(s.rand, totp.SecretBytes)
	if err != nil {
		return MFAEnrolmentStart{}, err
	}
	sealed, err := seal.seal(s.rand, u.ID, secret)
	if err != nil {
		return MFAEnrolmentStart{}, err
	}
	value := strconv.FormatInt(now.Add(MFAPendingTTL).UnixMicro(), 10) + ":" + base64.RawStdEncoding.EncodeToString(sealed)
	if err := s.pending.PutMFAPending(ctx, u.ID, value, MFAPendingTTL); err != nil {
		return MFAEnrolmentStart{}, err
	}
	uri := totp.KeyURI(s.cfg.MFAIssuer, u.Username, secret)
	png, err := qrcode.PNGDataURL(uri)
	if err != nil {
		return MFAEnrolmentStart{}, err
	}
	return MFAEnrolmentStart{Secret: totp.Encoding.EncodeToString(secret), OTPAuthURL: uri, QRPNG: png}, nil
}

// ActivateMFA turns MFA on with the pending enrolment once code is a
// current code of its secret (one step of skew either way), and returns
// RecoveryCodeCount recovery codes, which are stored only as hashes and so
// shown only now. The activating code's step counts as used. Every other
// session of the caller ends. Returns CodeValidation for a wrong code,
// ErrMFANoEnrolment without a pending enrolment (or an expired one),
// ErrMFAEnabled, CodeUnavailable, ErrMFANotConfigured.
func (s *Sessions) ActivateMFA(ctx context.Context, sess Session, code string) ([]string, error) {
	now := s.now()
	seal, err := s.mfaSealer(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.Me(ctx, sess)
	if err != nil {
		return nil, err
	}
	if u.MFAEnabled {
		return nil, ErrMFAEnabled
	}
	v, err := s.pending.MFAPending(ctx, u.ID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrMFANoEnrolment
	}
	if err != nil {
		return nil, err
	}
	exp, enc, _ := strings.Cut(v, ":")
	until, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.UnixMicro() >= until {
		return nil, ErrMFANoEnrolment
	}
	sealed, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil {
		return nil, ErrMFANoEnrolment
	}
	secret, err := seal.open(u.ID, sealed)
	if err != nil {
		return nil, &Error{Code: CodeInternal, Message: "Internal error.", Err: err}
	}
	step, ok := totp.Verify(secret, normaliseCode(code), now, MFASkew, 0)
	if !ok {
		return nil, &Error{Code: CodeValidation, Message: "The code does not match the new secret; check the authenticator app (and its clock) and send its current code.",
			Fields: map[string]string{"code": "does not match the secret being enrolled"}}
	}
	codes, hashes, err := s.newRecoveryCodes(u.ID)
	if err != nil {
		return nil, err
	}
	n, err := s.withSessionsEnded(ctx, u.ID, sess.ID, func() error {
		return s.mfa.EnableMFA(ctx, u.ID, MFAEnrolment{Secret: sealed, LastStep: step, RecoveryHashes: hashes, EnabledAt: now})
	})
	if err != nil {
		return nil, err
	}
	if err := s.pending.DeleteMFAPending(ctx, u.ID); err != nil {
		// It expires by itself, and can no longer be activated.
		s.logger.WarnContext(ctx, "pending mfa enrolment not deleted", "user_id", u.ID, "err", err)
	}
	s.record(ctx, Event{Type: EventMFAEnabled, ActorID: &u.ID, TargetID: &u.ID, Username: u.Username,
		Details: map[string]any{"method": methodTOTP, "sessions_revoked": n}})
	return codes, nil
}

// DisableMFA turns the caller's MFA off after checking their password and
// a code (TOTP or recovery), both counted against the login throttle when
// wrong; every other session of the caller ends. Returns
// ErrInvalidCredentials for a wrong password, ErrMFACodeInvalid for a
// wrong or replayed code, ErrMFADisabled when MFA is off, CodeRateLimited,
// CodeUnavailable, ErrMFANotConfigured.
func (s *Sessions) DisableMFA(ctx context.Context, sess Session, currentPassword, code string) error {
	now := s.now()
	a, err := s.beginAttempt(ctx, now, sess.Username)
	if err != nil {
		return err
	}
	u, err := s.Me(ctx, sess)
	if err == nil && !u.MFAEnabled {
		err = ErrMFADisabled
	}
	if err != nil {
		s.abandon(ctx, a)
		return err
	}
	if err := s.checkOwnPassword(ctx, a, u, currentPassword); err != nil {
		return err
	}
	method, reason, err := s.checkCode(ctx, u, code, now)
	switch {
	case errors.Is(err, ErrMFACodeInvalid):
		_ = s.mfaFailed(ctx, a, u, method, reason)
		return ErrMFACodeInvalid
	case err != nil:
		s.abandon(ctx, a)
		return err
	}
	if err := s.attemptSucceeded(ctx, a); err != nil {
		return err
	}
	n, err := s.withSessionsEnded(ctx, u.ID, sess.ID, func() error { return s.disableMFA(ctx, u.ID) })
	if err != nil {
		return err
	}
	s.record(ctx, Event{Type: EventMFADisabled, ActorID: &u.ID, TargetID: &u.ID, Username: u.Username,
		Details: map[string]any{"method": method, "sessions_revoked": n}})
	return nil
}

// ResetMFA turns a user's MFA off for an admin (a lost phone and lost
// recovery codes) and ends every session of the user. It needs no
// MFA_KEY: nothing is opened. Returns ErrForbidden for a non-admin actor,
// CodeNotFound, ErrMFADisabled when the user's MFA is off, CodeUnavailable.
func (s *Admin) ResetMFA(ctx context.Context, actor Session, userID int64) error {
	if _, err := s.authorize(ctx, actor); err != nil {
		return err
	}
	u, err := s.users.User(ctx, userID)
	if err != nil {
		return err
	}
	if !u.MFAEnabled {
		return ErrMFADisabled
	}
	n, err := s.withSessionsEnded(ctx, userID, "", func() error { return s.disableMFA(ctx, userID) })
	if err != nil {
		return err
	}
	s.record(ctx, Event{Type: EventMFAReset, ActorID: actorID(actor), TargetID: &userID, Username: u.Username,
		Details: map[string]any{"sessions_revoked": n}})
	return nil
}

// disableMFA deletes a user's MFA and any pending enrolment. Returns
// ErrMFADisabled if another request turned it off first.
func (s *core) disableMFA(ctx context.Context, userID int64) error {
	on, err := s.mfa.DisableMFA(ctx, userID)
	if err != nil {
		return err
	}
	if !on {
		return ErrMFADisabled
	}
	if err := s.pending.DeleteMFAPending(ctx, userID); err != nil {
		s.logger.WarnContext(ctx, "pending mfa enrolment not deleted", "user_id", userID, "err", err)
	}
	return nil
}

// checkOwnPassword checks the password of u, who is signed in, for a
// change to their own account: against the local hash, or the upstream's
// word for a provisioned user. A wrong one is a counted failure
// (ErrInvalidCredentials); an upstream that cannot be asked gives the
// attempt back (CodeUnavailable); an account whose upstream is not
// configured here is CodeConflict.
func (s *core) checkOwnPassword(ctx context.Context, a attempt, u User, password string) error {
	switch {
	case u.Source == SourceLocal:
		if !s.hasher.check(u.PasswordHash, password) {
			return s.loginFailed(ctx, a, u.Username, u.ID, "wrong_current_password")
		}
	case s.upstream != nil && u.Source == s.upstream.Source():
		p, err := s.upstream.Authenticate(ctx, u.Username, password)
		switch {
		case errors.Is(err, ErrInvalidCredentials):
			return s.loginFailed(ctx, a, u.Username, u.ID, "upstream_rejected")
		case err != nil:
			s.abandon(ctx, a)
			return err
		case p.Username != u.Username:
			return s.loginFailed(ctx, a, u.Username, u.ID, "upstream_other_user")
		}
	default:
		s.abandon(ctx, a)
		return Errorf(CodeConflict, "This account's password is managed by %s, which this service cannot reach.", u.Source)
	}
	return nil
}
