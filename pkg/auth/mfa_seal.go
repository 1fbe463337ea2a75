package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// sealer encrypts TOTP secrets at rest (docs/security.md 34) with
// AES-256-GCM under MFA_KEY: a random 96-bit nonce per seal, and the user
// id as additional data, so that a sealed secret copied onto another
// user's row does not open. A sealed value is version (1 byte), nonce,
// ciphertext and tag.
type sealer struct {
	aead  cipher.AEAD
	check string // what the database must hold for this key (keyCheck)
}

const sealVersion = 1

// errWrongMFAKey is the cause of every failure to open a sealed secret.
var errWrongMFAKey = errors.New("MFA_KEY does not open this secret: the key is not the one it was sealed with, or the value was altered")

// newSealer returns a sealer for a 32-byte key. Returns CodeInvalidRequest
// for a key of another length.
func newSealer(key []byte) (*sealer, error) {
	if len(key) != MFAKeyBytes {
		return nil, Errorf(CodeInvalidRequest, "MFA_KEY must be %d bytes, not %d", MFAKeyBytes, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, check: keyCheck(key)}, nil
}

// keyCheck is the value a database keeps to recognise MFA_KEY: an HMAC of
// a fixed label under the key. It tells nothing about the key (HMAC-SHA-256
// is a PRF) and cannot open any secret.
func keyCheck(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("authfn MFA_KEY check v1"))
	return "v1:" + base64.RawStdEncoding.EncodeToString(m.Sum(nil))
}

func sealAD(userID int64) []byte {
	return []byte("authfn mfa secret v1 user " + strconv.FormatInt(userID, 10))
}

// seal encrypts secret for the user.
func (s *sealer) seal(rnd io.Reader, userID int64, secret []byte) ([]byte, error) {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(secret)+s.aead.Overhead())
	out[0] = sealVersion
	if _, err := io.ReadFull(rnd, out[1:]); err != nil {
		return nil, fmt.Errorf("read random: %w", err)
	}
	return s.aead.Seal(out, out[1:], secret, sealAD(userID)), nil
}

// open decrypts what seal made for the user. Any failure is errWrongMFAKey
// (GCM tells a wrong key, a tampered value and another user's secret apart
// from none of them, and says so rather than return garbage).
func (s *sealer) open(userID int64, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, errWrongMFAKey
	}
	secret, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], sealAD(userID))
	if err != nil {
		return nil, errWrongMFAKey
	}
	return secret, nil
}

// mfaSealer returns the sealer once MFA_KEY is known to be the key the
// database's secrets are sealed with. The first call in a process compares
// (or, on a database that has none yet, stores) the key check value: one
// query per process, on its first MFA operation, so a Lambda cold start
// pays nothing and a function with the wrong key never seals a secret
// that the others could not open. Returns ErrMFANotConfigured without
// MFA_KEY, CodeInternal for a wrong key (logged), CodeUnavailable.
func (s *core) mfaSealer(ctx context.Context) (*sealer, error) {
	if s.sealer == nil {
		return nil, ErrMFANotConfigured
	}
	if s.keyChecked.Load() {
		return s.sealer, nil
	}
	if err := s.checkMFAKey(ctx); err != nil {
		return nil, err
	}
	return s.sealer, nil
}

// checkMFAKey holds MFA_KEY to the key check value in the database,
// storing it on a database that has none. Returns a CodeInternal error
// whose message names the problem (a start-up error: the value never
// reaches a client), CodeUnavailable.
func (s *core) checkMFAKey(ctx context.Context) error {
	stored, err := s.mfa.InitMFAKeyCheck(ctx, s.sealer.check)
	if err != nil {
		return err
	}
	if stored != s.sealer.check {
		err := &Error{Code: CodeInternal, Message: "MFA_KEY is not the key this database's MFA secrets are sealed with: " +
			"set the MFA_KEY the service ran with before (or restore its secret); a new key cannot read them"}
		s.logger.ErrorContext(ctx, "wrong MFA_KEY", "err", err.Message)
		return err
	}
	s.keyChecked.Store(true)
	return nil
}

// CheckMFAKey stops a start whose MFA_KEY is not the one the database's
// secrets were sealed with, and records the key on a database that has
// none. Without MFA_KEY it does nothing (the service then refuses MFA
// operations). It is what the local runner and the deploy's migrate step
// run at start. Returns CodeInternal with a message that says what to do,
// CodeUnavailable.
func (s *Setup) CheckMFAKey(ctx context.Context) error {
	if s.sealer == nil {
		return nil
	}
	return s.checkMFAKey(ctx)
}
