package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"authfn/pkg/totp"
)

// Recovery codes carry 100 random bits: 20 characters of RFC 4648 base32,
// shown as four groups of five. At that size one SHA-256 is as good a
// store as bcrypt: a slow hash defends guessable secrets (passwords), and
// 2^100 guesses are out of reach at any hash rate, so the login path
// pays no second bcrypt (docs/security.md 7).
const (
	recoveryChars = 20
	recoveryGroup = 5
)

var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newRecoveryCodes returns RecoveryCodeCount fresh codes for the user and
// their hashes.
func (s *core) newRecoveryCodes(userID int64) (codes, hashes []string, err error) {
	for range RecoveryCodeCount {
		raw, err := randomBytes(s.rand, 13) // 104 bits; 100 are used
		if err != nil {
			return nil, nil, err
		}
		c := strings.ToLower(recoveryEncoding.EncodeToString(raw))[:recoveryChars]
		var shown []string
		for i := 0; i < recoveryChars; i += recoveryGroup {
			shown = append(shown, c[i:i+recoveryGroup])
		}
		codes = append(codes, strings.Join(shown, "-"))
		hashes = append(hashes, recoveryHash(userID, c))
	}
	return codes, hashes, nil
}

// recoveryHash is what the store keeps of a normalised recovery code: the
// user id is hashed in, so equal codes of two users never share a hash.
func recoveryHash(userID int64, code string) string {
	sum := sha256.Sum256([]byte("authfn recovery code v1 user " + strconv.FormatInt(userID, 10) + ":" + code))
	return hex.EncodeToString(sum[:])
}

// normaliseCode takes a code as people type it: spaces and hyphens
// anywhere, any case.
func normaliseCode(code string) string {
	return strings.ToLower(strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(code))
}

func isRecoveryCode(c string) bool {
	if len(c) != recoveryChars {
		return false
	}
	for _, r := range c {
		if (r < 'a' || r > 'z') && (r < '2' || r > '7') {
			return false
		}
	}
	return true
}

// Second-factor methods and failure reasons, as audit details name them.
const (
	methodTOTP     = "totp"
	methodRecovery = "recovery_code"
	reasonWrong    = "wrong_code"
	reasonReplayed = "replayed_code"
)

// checkCode checks a second factor of u at now: a TOTP code (accepted once:
// its step must be after the last accepted one, advanced atomically) or an
// unused recovery code (used up). It says which kind the code looked like
// and, on ErrMFACodeInvalid, why it failed. Any other error is a fault
// (store down, wrong MFA_KEY) that says nothing about the code.
func (s *core) checkCode(ctx context.Context, u User, code string, now time.Time) (method, reason string, err error) {
	c := normaliseCode(code)
	switch {
	case len(c) == totp.Digits:
		seal, err := s.mfaSealer(ctx)
		if err != nil {
			return methodTOTP, "", err
		}
		rec, err := s.mfa.MFA(ctx, u.ID)
		if errors.Is(err, ErrNotFound) {
			return methodTOTP, reasonWrong, ErrMFACodeInvalid // turned off meanwhile
		}
		if err != nil {
			return methodTOTP, "", err
		}
		secret, err := seal.open(u.ID, rec.Secret)
		if err != nil {
			return methodTOTP, "", &Error{Code: CodeInternal, Message: "Internal error.", Err: fmt.Errorf("user %d: %w", u.ID, err)}
		}
		// Verify skips steps at or before the last accepted one, so a code
		// seen once (shoulder-surfed, phished) is refused as a replay.
		step, ok := totp.Verify(secret, c, now, MFASkew, rec.LastStep)
		if !ok {
			if _, old := totp.Verify(secret, c, now, MFASkew, -1<<62); old {
				return methodTOTP, reasonReplayed, ErrMFACodeInvalid
			}
			return methodTOTP, reasonWrong, ErrMFACodeInvalid
		}
		// Of two requests with this code, the store lets one advance the step.
		advanced, err := s.mfa.AdvanceMFAStep(ctx, u.ID, step)
		if err != nil {
			return methodTOTP, "", err
		}
		if !advanced {
			return methodTOTP, reasonReplayed, ErrMFACodeInvalid
		}
		return methodTOTP, "", nil
	case isRecoveryCode(c):
		used, err := s.mfa.UseRecoveryCode(ctx, u.ID, recoveryHash(u.ID, c))
		if err != nil {
			return methodRecovery, "", err
		}
		if !used {
			return methodRecovery, reasonWrong, ErrMFACodeInvalid
		}
		return methodRecovery, "", nil
	}
	return "", reasonWrong, ErrMFACodeInvalid
}

// mfaFailed writes the audit events of a wrong second factor (already
// counted against the throttle, like a wrong password: docs/security.md 34):
// login.mfa_failed, which statistics count as a failed login, and
// login.locked when it started a lock. It returns ErrInvalidCredentials,
// the one answer every failed credential gets.
func (s *core) mfaFailed(ctx context.Context, a attempt, u User, method, reason string) error {
	return s.failed(ctx, a, Event{Type: EventLoginMFAFailed, TargetID: &u.ID, Username: u.Username,
		Details: map[string]any{"method": method, "reason": reason}})
}

// secondFactor decides what a login with the right password still needs:
// nothing without MFA (amr pwd); with MFA and a code, that code (amr pwd
// otp); with MFA and no code, an mfa_token for POST /login/mfa, answered
// as CodeMFARequired. It settles the attempt itself unless it returns the
// methods to sign in with: a wrong code counts as a failure; a right
// password without a code is neither failure nor success (the attempt is
// given back, and the count that wrong codes built stays); the caller
// settles a success.
//
// The mfa_required answer costs what a wrong password costs (one bcrypt,
// done already, and a couple of Redis round trips): no slow work happens
// here (docs/security.md 34).
func (s *core) secondFactor(ctx context.Context, a attempt, u User, code string, now time.Time) ([]string, error) {
	if !u.MFAEnabled {
		return []string{AMRPassword}, nil
	}
	if code == "" {
		tok, err := s.issueMFAToken(ctx, u, now)
		s.abandon(ctx, a)
		if err != nil {
			return nil, err
		}
		return nil, &Error{Code: CodeMFARequired, Message: "A second factor is required: send the mfa_token and a code to POST /login/mfa.", MFAToken: tok}
	}
	method, reason, err := s.checkCode(ctx, u, code, now)
	switch {
	case errors.Is(err, ErrMFACodeInvalid):
		// The same answer as a wrong password: a one-step login must not
		// confirm a password whose second factor failed.
		return nil, s.mfaFailed(ctx, a, u, method, reason)
	case err != nil:
		s.abandon(ctx, a)
		return nil, err
	}
	return []string{AMRPassword, AMROTP}, nil
}

// An mfa_token reads "m1.<user id>.<secret>": the user id finds its key in
// the user's Redis slot, the 256-bit secret proves possession, and only
// its hash is stored.
const mfaTokenPrefix = "m1."

// issueMFAToken stores a new mfa_token for u, valid MFATokenTTL from now
// and bound to the password hash the login verified: a password change in
// between voids it.
func (s *core) issueMFAToken(ctx context.Context, u User, now time.Time) (string, error) {
	secret, err := randomToken(s.rand, 32)
	if err != nil {
		return "", err
	}
	tok := mfaTokenPrefix + strconv.FormatInt(u.ID, 10) + "." + secret
	value := strconv.FormatInt(now.Add(MFATokenTTL).UnixMicro(), 10) + ":" + hashToken(u.PasswordHash)
	if err := s.pending.PutMFAToken(ctx, u.ID, hashToken(tok), value, MFATokenTTL); err != nil {
		return "", err
	}
	return tok, nil
}

// takeMFAToken uses up an mfa_token and returns its user, who must still
// be active, with MFA on and the same password. Returns ErrMFATokenInvalid
// for any token that is not so, CodeUnavailable.
func (s *core) takeMFAToken(ctx context.Context, tok string, now time.Time) (User, error) {
	rest, ok := strings.CutPrefix(tok, mfaTokenPrefix)
	id, secret, ok2 := strings.Cut(rest, ".")
	uid, err := strconv.ParseInt(id, 10, 64)
	if !ok || !ok2 || err != nil || uid <= 0 || strconv.FormatInt(uid, 10) != id || len(secret) != 43 {
		return User{}, ErrMFATokenInvalid
	}
	v, err := s.pending.TakeMFAToken(ctx, uid, hashToken(tok))
	if errors.Is(err, ErrNotFound) {
		return User{}, ErrMFATokenInvalid
	}
	if err != nil {
		return User{}, err
	}
	exp, digest, _ := strings.Cut(v, ":")
	until, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.UnixMicro() >= until {
		return User{}, ErrMFATokenInvalid
	}
	u, err := s.users.User(ctx, uid)
	if errors.Is(err, ErrNotFound) {
		return User{}, ErrMFATokenInvalid
	}
	if err != nil {
		return User{}, err
	}
	if !u.IsActive || !u.MFAEnabled || hashToken(u.PasswordHash) != digest {
		return User{}, ErrMFATokenInvalid
	}
	return u, nil
}
