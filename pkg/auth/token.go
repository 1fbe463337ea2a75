package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
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
	// AMR (RFC 8176) says how the session's login authenticated the user:
	// ["pwd"], or ["pwd", "otp"] after a second factor.
	AMR []string `json:"amr,omitempty"`
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
// (HS256) and PrivateKey (EdDSA with an ed25519.PrivateKey, ES256 with a
// P-256 *ecdsa.PrivateKey) is set.
type TokenConfig struct {
	Issuer     string
	Audience   string
	TTL        time.Duration
	Secret     []byte
	PrivateKey crypto.Signer
	// VerifyKeys are the public keys (ed25519.PublicKey or P-256
	// *ecdsa.PublicKey) of earlier signing keys: tokens they signed are
	// accepted until they expire, and the JWKS publishes them, so a key can
	// be rotated without logging anyone out.
	VerifyKeys []crypto.PublicKey
}

// verifyKey is one public key a token may be verified with, found by kid.
type verifyKey struct {
	alg string
	key crypto.PublicKey
	jwk map[string]string
}

// Tokens signs and verifies access tokens with pinned algorithms.
type Tokens struct {
	cfg    TokenConfig
	method jwt.SigningMethod
	sign   any    // key for signing
	kid    string // of the signing key; "" under HS256
	secret []byte // HS256 verification key; nil when signing with a key pair
	keys   map[string]verifyKey
	algs   []string // every algorithm a token may carry, signing first
	parser *jwt.Parser
	jwks   []byte
}

// MinSecretBytes is the shortest HS256 secret accepted (docs/security.md 14).
const MinSecretBytes = 32

// NewTokens returns a signer/verifier for cfg. Returns CodeInvalidRequest
// for a secret shorter than MinSecretBytes, a missing key, or a key of a
// kind or curve the service does not use.
func NewTokens(cfg TokenConfig, now func() time.Time) (*Tokens, error) {
	t := &Tokens{cfg: cfg, keys: map[string]verifyKey{}}
	var published []map[string]string
	add := func(pub crypto.PublicKey) (verifyKey, error) {
		k, err := newVerifyKey(pub)
		if err != nil {
			return k, err
		}
		if _, dup := t.keys[k.jwk["kid"]]; !dup {
			t.keys[k.jwk["kid"]] = k
			published = append(published, k.jwk)
			if !slices.Contains(t.algs, k.alg) {
				t.algs = append(t.algs, k.alg)
			}
		}
		return k, nil
	}
	switch {
	case cfg.PrivateKey != nil:
		if k, ok := cfg.PrivateKey.(ed25519.PrivateKey); ok && len(k) != ed25519.PrivateKeySize {
			return nil, Errorf(CodeInvalidRequest, "the Ed25519 private key has the wrong size")
		}
		k, err := add(cfg.PrivateKey.Public())
		if err != nil {
			return nil, err
		}
		t.method, t.sign, t.kid = jwt.GetSigningMethod(k.alg), cfg.PrivateKey, k.jwk["kid"]
	case len(cfg.Secret) >= MinSecretBytes:
		t.method, t.sign, t.secret = jwt.SigningMethodHS256, cfg.Secret, cfg.Secret
		t.algs = []string{jwt.SigningMethodHS256.Alg()}
	default:
		return nil, Errorf(CodeInvalidRequest, "the JWT secret must be at least %d bytes", MinSecretBytes)
	}
	for _, pub := range cfg.VerifyKeys {
		if _, err := add(pub); err != nil {
			return nil, err
		}
	}
	if len(published) > 0 {
		jwks, err := json.Marshal(map[string]any{"keys": published})
		if err != nil {
			return nil, err
		}
		t.jwks = jwks
	}
	// Every validation option is spelled out: golang-jwt/v5 checks none of
	// iss, aud or a missing exp unless asked (docs/security.md 11).
	t.parser = jwt.NewParser(
		jwt.WithValidMethods(t.algs),
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

// newVerifyKey describes pub as a JWK with its RFC 7638 thumbprint as kid:
// a kid that names the key itself, so rotating keys never reuses one.
func newVerifyKey(pub crypto.PublicKey) (verifyKey, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case ed25519.PublicKey:
		x := b64(k)
		kid := thumbprint(fmt.Sprintf(`{"crv":"Ed25519","kty":"OKP","x":"%s"}`, x))
		return verifyKey{alg: "EdDSA", key: k, jwk: map[string]string{
			"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig",
		}}, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return verifyKey{}, Errorf(CodeInvalidRequest, "an EC key must be on the P-256 curve (ES256)")
		}
		raw, err := k.Bytes() // 0x04 || X || Y, each 32 bytes
		if err != nil {
			return verifyKey{}, &Error{Code: CodeInvalidRequest, Message: "the EC public key is not valid", Err: err}
		}
		x, y := b64(raw[1:33]), b64(raw[33:65])
		kid := thumbprint(fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, x, y))
		return verifyKey{alg: "ES256", key: k, jwk: map[string]string{
			"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig",
		}}, nil
	}
	return verifyKey{}, Errorf(CodeInvalidRequest, "a JWT key must be Ed25519 or P-256, not %T", pub)
}

// thumbprint is the RFC 7638 JWK thumbprint of a key given as its
// canonical JSON (required members only, in lexical order, no spaces).
func thumbprint(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// JWKS returns the JSON Web Key Set of the public keys (the signing key
// first, then the verify keys), and false when there is none to publish
// (HS256 with no verify keys).
func (t *Tokens) JWKS() ([]byte, bool) { return t.jwks, t.jwks != nil }

// Alg is the algorithm new tokens are signed with.
func (t *Tokens) Alg() string { return t.method.Alg() }

// Algorithms lists every algorithm a token may carry, signing first.
func (t *Tokens) Algorithms() []string { return slices.Clone(t.algs) }

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
// ErrInvalidToken (docs/security.md 16: no branch that accepts an expired
// token for something else).
func (t *Tokens) Parse(raw string) (AccessClaims, error) {
	if len(raw) == 0 || len(raw) > MaxTokenBytes {
		return AccessClaims{}, ErrInvalidToken
	}
	var c AccessClaims
	_, err := t.parser.ParseWithClaims(raw, &c, t.keyFor)
	if err != nil {
		return AccessClaims{}, &Error{Code: CodeInvalidToken, Message: ErrInvalidToken.Message, Err: err}
	}
	if c.UserID() == 0 || strconv.FormatInt(c.UserID(), 10) != c.Subject || c.SessionID == "" || c.ID == "" || c.IssuedAt == nil {
		return AccessClaims{}, &Error{Code: CodeInvalidToken, Message: ErrInvalidToken.Message, Err: errors.New("missing or non-canonical sub, sid, jti or iat")}
	}
	return c, nil
}

// keyFor returns the server's own key for tok. jku, x5u and jwk headers are
// never read (docs/security.md 13); a kid only selects among our keys, and
// the token's alg must be exactly that key's algorithm, so no key is ever
// used with another algorithm (HS/RS-style confusion). A token without kid
// is accepted only under HS256, and an HS256 token must carry none. Any
// crit header is refused: this service understands no JWS extension
// (RFC 7515 section 4.1.11).
func (t *Tokens) keyFor(tok *jwt.Token) (any, error) {
	if _, ok := tok.Header["crit"]; ok {
		return nil, errors.New("crit header")
	}
	kidValue, hasKid := tok.Header["kid"]
	if !hasKid {
		if t.secret != nil && tok.Method.Alg() == jwt.SigningMethodHS256.Alg() {
			return t.secret, nil
		}
		return nil, errors.New("missing kid")
	}
	kid, _ := kidValue.(string)
	k, ok := t.keys[kid]
	if !ok || kid == "" {
		return nil, errors.New("unknown kid")
	}
	if tok.Method.Alg() != k.alg {
		return nil, errors.New("alg does not match the key")
	}
	return k.key, nil
}

// UnmarshalJSON refuses a time claim (exp, iat, nbf) that is not a JSON
// number: RFC 7519 makes them NumericDates, and golang-jwt would also take
// a string such as "1999999999". It reads the claims in one pass, since
// this runs on every authenticated request.
func (c *AccessClaims) UnmarshalJSON(b []byte) error {
	var w struct {
		Issuer    string           `json:"iss"`
		Subject   string           `json:"sub"`
		Audience  jwt.ClaimStrings `json:"aud"`
		ExpiresAt numericDate      `json:"exp"`
		NotBefore numericDate      `json:"nbf"`
		IssuedAt  numericDate      `json:"iat"`
		ID        string           `json:"jti"`
		SessionID string           `json:"sid"`
		Username  string           `json:"username"`
		Admin     bool             `json:"admin"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = AccessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: w.Issuer, Subject: w.Subject, Audience: w.Audience, ID: w.ID,
			ExpiresAt: w.ExpiresAt.d, NotBefore: w.NotBefore.d, IssuedAt: w.IssuedAt.d,
		},
		SessionID: w.SessionID, Username: w.Username, Admin: w.Admin,
	}
	return nil
}

// numericDate is a time claim that must be a JSON number: null, a string
// or anything else is an error, wherever it appears (a repeated key too).
type numericDate struct{ d *jwt.NumericDate }

func (n *numericDate) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return errors.New("a time claim is not a JSON number")
	}
	// b is a JSON number (the decoder checked the value; a digit or '-'
	// starts no other), which ParseFloat reads as json.Number.Float64
	// would. Seconds and fraction become a time as jwt.NumericDate's own
	// UnmarshalJSON makes them, without decoding b a second time.
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("could not convert json number value to float: %w", err)
	}
	s, frac := math.Modf(f)
	n.d = jwt.NewNumericDate(time.Unix(int64(s), int64(frac*1e9)))
	return nil
}
