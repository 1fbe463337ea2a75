package auth

import (
	"encoding/base64"
	"fmt"
	"io"

	"golang.org/x/crypto/bcrypt"
)

// Password length bounds in bytes. 72 is bcrypt's limit: longer passwords
// are refused rather than silently cut (docs/security.md 2).
const (
	MinPasswordBytes = 8
	MaxPasswordBytes = 72
	// MinBcryptCost is the lowest cost the service starts with; bcrypt
	// itself silently turns costs below 4 into 10 (docs/security.md 1).
	MinBcryptCost = 10
)

// bcryptBase64 is bcrypt's own base64 alphabet, used to build the dummy hash.
var bcryptBase64 = base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").WithPadding(base64.NoPadding)

// hasher hashes and checks passwords at one bcrypt cost.
type hasher struct {
	cost  int
	dummy []byte
}

// newHasher returns a hasher at cost. The dummy hash that unknown users are
// compared against is well-formed at the same cost but built from random
// bytes rather than computed: a real bcrypt.GenerateFromPassword at start
// would cost a Lambda cold start a quarter of a second.
func newHasher(cost int, rnd io.Reader) (*hasher, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d out of range", cost)
	}
	salt := make([]byte, 16)
	sum := make([]byte, 23)
	if _, err := io.ReadFull(rnd, salt); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(rnd, sum); err != nil {
		return nil, err
	}
	dummy := fmt.Sprintf("$2a$%02d$%s%s", cost, bcryptBase64.EncodeToString(salt), bcryptBase64.EncodeToString(sum))
	return &hasher{cost: cost, dummy: []byte(dummy)}, nil
}

// validatePassword returns a field message, or "" if p is acceptable.
func validatePassword(p string) string {
	switch {
	case len(p) < MinPasswordBytes:
		return fmt.Sprintf("must be at least %d bytes", MinPasswordBytes)
	case len(p) > MaxPasswordBytes:
		return fmt.Sprintf("must be at most %d bytes (bcrypt's limit)", MaxPasswordBytes)
	}
	return ""
}

// hash returns the bcrypt hash of p, which must already be valid.
func (h *hasher) hash(p string) (string, error) {
	b, err := bcrypt.GenerateFromPassword([]byte(p), h.cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(b), nil
}

// check reports whether p matches hash. It always does one bcrypt
// comparison at the configured cost or the hash's own, whatever the input,
// so that an unknown user, a user without a local password and an
// over-long password cost the same as a wrong one (docs/security.md 7).
func (h *hasher) check(hash, p string) bool {
	if hash == "" || len(p) > MaxPasswordBytes {
		_ = bcrypt.CompareHashAndPassword(h.dummy, []byte(p))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(p)) == nil
}

// stale reports whether hash was made at another cost and should be
// replaced at the next successful login (docs/security.md 3).
func (h *hasher) stale(hash string) bool {
	c, err := bcrypt.Cost([]byte(hash))
	return err == nil && c != h.cost
}

// randomToken returns n random bytes from rnd, base64url-encoded.
func randomToken(rnd io.Reader, n int) (string, error) {
	b, err := randomBytes(rnd, n)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// randomBytes returns n bytes read from rnd.
func randomBytes(rnd io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return nil, fmt.Errorf("read random: %w", err)
	}
	return b, nil
}
