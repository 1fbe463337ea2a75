package auth

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenBytes bounds an access token before any parsing: a crafted header
// must be refused before it costs anything (golang-jwt CVE-2025-30204).
const MaxTokenBytes = 8 << 10

// tokenLeeway is the clock skew tolerated on exp and iat (docs/security.md 11: ≤ 30 s).
const tokenLeeway = 5 * time.Second

// AccessClaims are the claims of an access token. Username and Admin are
// for downstream services; this service reads admin rights from the user's
// current record instead.
type AccessClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
	Username  string `json:"username"`
	Admin     bool   `json:"admin"`
}

// UserID returns the subject as a user id, or 0 if it is not one.
func (c AccessClaims) UserID() int64 {
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

// TokenConfig pins how access tokens are signed. Exactly one of Secret
// (HS256) and PrivateKey (EdDSA) is set.
type TokenConfig struct {
	Issuer     string
	Audience   string
	TTL        time.Duration
	Secret     []byte
	PrivateKey ed25519.PrivateKey
}

// Tokens signs and verifies access tokens with one pinned algorithm.
type Tokens struct {
	cfg    TokenConfig
	method jwt.SigningMethod
	sign   any // key for signing
	verify any // key for verifying
	kid    string
	parser *jwt.Parser
	jwks   []byte
}

// MinSecretBytes is the shortest HS256 secret accepted (docs/security.md 14).
const MinSecretBytes = 32

// NewTokens returns a signer/verifier for cfg. Returns CodeInvalidRequest
// for a secret shorter than MinSecretBytes or a missing key.
func NewTokens(cfg TokenConfig, now func() time.Time) (*Tokens, error) {
	t := &Tokens{cfg: cfg}
	switch {
	case cfg.PrivateKey != nil:
		if len(cfg.PrivateKey) != ed25519.PrivateKeySize {
			return nil, Errorf(CodeInvalidRequest, "the Ed25519 private key has the wrong size")
		}
		pub := cfg.PrivateKey.Public().(ed25519.PublicKey)
		t.method, t.sign, t.verify = jwt.SigningMethodEdDSA, cfg.PrivateKey, pub
		t.kid = thumbprint(pub)
		jwks, err := json.Marshal(map[string]any{"keys": []map[string]string{{
			"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(pub),
			"kid": t.kid, "alg": "EdDSA", "use": "sig",
		}}})
		if err != nil {
			return nil, err
		}
		t.jwks = jwks
	case len(cfg.Secret) >= MinSecretBytes:
		t.method, t.sign, t.verify = jwt.SigningMethodHS256, cfg.Secret, cfg.Secret
	default:
		return nil, Errorf(CodeInvalidRequest, "the JWT secret must be at least %d bytes", MinSecretBytes)
	}
	// Every validation option is spelled out: golang-jwt/v5 checks none of
	// iss, aud or a missing exp unless asked (docs/security.md 11).
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{t.method.Alg()}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	)
	return t, nil
}

// thumbprint is the RFC 7638 JWK thumbprint of an Ed25519 key: a kid that
// names the key itself, so rotating keys never reuses a kid.
func thumbprint(pub ed25519.PublicKey) string {
	canon := fmt.Sprintf(`{"crv":"Ed25519","kty":"OKP","x":"%s"}`, base64.RawURLEncoding.EncodeToString(pub))
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// JWKS returns the JSON Web Key Set of the public signing key, and false
// when tokens are signed with a shared secret (nothing to publish).
func (t *Tokens) JWKS() ([]byte, bool) { return t.jwks, t.jwks != nil }

// Sign returns a signed access token for c. It sets iss, aud and the kid
// header; the caller sets sub, sid, iat, exp and jti.
func (t *Tokens) Sign(c AccessClaims) (string, error) {
	c.Issuer = t.cfg.Issuer
	c.Audience = jwt.ClaimStrings{t.cfg.Audience}
	tok := jwt.NewWithClaims(t.method, c)
	if t.kid != "" {
		tok.Header["kid"] = t.kid
	}
	s, err := tok.SignedString(t.sign)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return s, nil
}

// Parse verifies raw and returns its claims. Any failure, of any kind, is
// ErrInvalidToken (docs/security.md 16: no branch that accepts an expired token
// for something else).
func (t *Tokens) Parse(raw string) (AccessClaims, error) {
	if len(raw) == 0 || len(raw) > MaxTokenBytes {
		return AccessClaims{}, ErrInvalidToken
	}
	var c AccessClaims
	_, err := t.parser.ParseWithClaims(raw, &c, t.keyFor)
	if err != nil {
		return AccessClaims{}, &Error{Code: CodeInvalidToken, Message: ErrInvalidToken.Message, Err: err}
	}
	if c.UserID() == 0 || c.SessionID == "" || c.ID == "" || c.IssuedAt == nil {
		return AccessClaims{}, &Error{Code: CodeInvalidToken, Message: ErrInvalidToken.Message, Err: errors.New("missing sub, sid, jti or iat")}
	}
	return c, nil
}

// keyFor returns the server's own key. jku, x5u and jwk headers are never
// read (docs/security.md 13); a kid only selects among our keys, and we have one.
func (t *Tokens) keyFor(tok *jwt.Token) (any, error) {
	if kid, ok := tok.Header["kid"]; ok && kid != t.kid {
		return nil, errors.New("unknown kid")
	}
	if _, ok := tok.Header["kid"]; !ok && t.kid != "" {
		return nil, errors.New("missing kid")
	}
	return t.verify, nil
}
