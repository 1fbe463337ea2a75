package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")
	testNow    = time.Date(2026, 6, 29, 14, 41, 43, 0, time.UTC)
)

func fixedClock() time.Time { return testNow }

func newTestTokens(t *testing.T) *Tokens {
	t.Helper()
	tk, err := NewTokens(TokenConfig{Issuer: "authfn", Audience: "authfn", TTL: 30 * time.Minute, Secret: testSecret}, fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": "authfn", "aud": "authfn", "sub": "42", "sid": "s_AAAAAAAAAAAAAAAAAAAAAA",
		"iat": testNow.Add(-time.Minute).Unix(), "exp": testNow.Add(29 * time.Minute).Unix(), "jti": "j1",
		"username": "alice", "admin": false,
	}
}

func signHS(t *testing.T, claims jwt.MapClaims, key []byte) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signRawHS signs payload exactly as given, for claims a map cannot hold
// (a repeated key).
func signRawHS(t *testing.T, payload string) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	signing := b64([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + b64([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(signing, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64(sig)
}

func TestTokensRoundTrip(t *testing.T) {
	tk := newTestTokens(t)
	raw, err := tk.Sign(AccessClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "42", IssuedAt: jwt.NewNumericDate(testNow), ExpiresAt: jwt.NewNumericDate(testNow.Add(time.Minute)), ID: "j"},
		SessionID:        "s_x", Username: "alice", Admin: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tk.Parse(raw)
	if err != nil {
		t.Fatalf("Parse of a token we signed: %v", err)
	}
	if c.UserID() != 42 || c.SessionID != "s_x" || c.Username != "alice" || !c.Admin {
		t.Errorf("claims = %+v, want sub 42, sid s_x, alice, admin", c)
	}
	parts := strings.Split(raw, ".")
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	_ = json.Unmarshal(hdr, &h)
	if h["alg"] != "HS256" {
		t.Errorf("alg = %v, want HS256", h["alg"])
	}
}

// TestTokensReject covers docs/security.md 11-16: every way a token can be
// wrong is a rejection.
func TestTokensReject(t *testing.T) {
	tk := newTestTokens(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	with := func(k string, v any) jwt.MapClaims {
		c := validClaims()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, validClaims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	rs, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, validClaims()).SignedString(rsaKey)
	hs384, _ := jwt.NewWithClaims(jwt.SigningMethodHS384, validClaims()).SignedString(testSecret)
	ed, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, validClaims()).SignedString(edKey)
	jku := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims())
	jku.Header["jku"] = "https://evil.example/jwks.json"
	jku.Header["kid"] = "evil"
	jkuRaw, _ := jku.SignedString(testSecret)

	// A payload written out, for what a map cannot hold; with %s = exp it is valid.
	const raw = `{"iss":"authfn","aud":"authfn","sub":"42","sid":"s_AAAAAAAAAAAAAAAAAAAAAA","jti":"j1","iat":%s,"exp":%s}`
	iat, exp := strconv.FormatInt(testNow.Add(-time.Minute).Unix(), 10), strconv.FormatInt(testNow.Add(29*time.Minute).Unix(), 10)
	if _, err := tk.Parse(signRawHS(t, fmt.Sprintf(raw, iat, exp))); err != nil {
		t.Fatalf("Parse of the written-out payload = %v, want it valid", err)
	}

	cases := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"garbage", "not.a.jwt"},
		{"alg none", none},
		{"RS256 (HS/RS confusion)", rs},
		{"HS384", hs384},
		{"EdDSA when HS256 is pinned", ed},
		{"wrong secret", signHS(t, validClaims(), []byte("another-secret-that-is-long-enough-32"))},
		{"missing exp", signHS(t, with("exp", nil), testSecret)},
		{"expired", signHS(t, with("exp", testNow.Add(-time.Minute).Unix()), testSecret)},
		{"missing iss", signHS(t, with("iss", nil), testSecret)},
		{"wrong iss", signHS(t, with("iss", "someone-else"), testSecret)},
		{"missing aud", signHS(t, with("aud", nil), testSecret)},
		{"wrong aud", signHS(t, with("aud", "other-api"), testSecret)},
		{"iat in the future", signHS(t, with("iat", testNow.Add(time.Hour).Unix()), testSecret)},
		{"missing iat", signHS(t, with("iat", nil), testSecret)},
		{"missing sid", signHS(t, with("sid", nil), testSecret)},
		{"missing jti", signHS(t, with("jti", nil), testSecret)},
		{"non-numeric sub", signHS(t, with("sub", "alice"), testSecret)},
		{"zero sub", signHS(t, with("sub", "0"), testSecret)},
		{"exp as a string", signHS(t, with("exp", exp), testSecret)},
		{"iat as a string", signHS(t, with("iat", iat), testSecret)},
		{"nbf as a string", signHS(t, with("nbf", iat), testSecret)},
		{"exp null", signHS(t, with("exp", json.RawMessage("null")), testSecret)},
		{"exp repeated, first as a string", signRawHS(t, fmt.Sprintf(raw, iat, `"`+exp+`","exp":`+exp))},
		{"unknown kid with jku", jkuRaw},
		{"oversized", strings.Repeat("a", MaxTokenBytes+1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tk.Parse(tc.token)
			if ErrorCode(err) != CodeInvalidToken {
				t.Errorf("Parse = %v, want code %s", err, CodeInvalidToken)
			}
		})
	}
}

func TestTokensEdDSA(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	tk, err := NewTokens(TokenConfig{Issuer: "authfn", Audience: "authfn", TTL: time.Minute, PrivateKey: key}, fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	c := validClaims()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = tk.kid
	raw, _ := tok.SignedString(key)
	if _, err := tk.Parse(raw); err != nil {
		t.Errorf("Parse of an EdDSA token with our kid: %v", err)
	}
	// The HS256 token signed with the public key as secret: the classic
	// algorithm-confusion attack.
	pub := key.Public().(ed25519.PublicKey)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	hs.Header["kid"] = tk.kid
	hsRaw, _ := hs.SignedString([]byte(pub))
	if _, err := tk.Parse(hsRaw); ErrorCode(err) != CodeInvalidToken {
		t.Errorf("HS256 signed with the public key: err = %v, want invalid_token", err)
	}
	noKid, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(key)
	if _, err := tk.Parse(noKid); ErrorCode(err) != CodeInvalidToken {
		t.Errorf("EdDSA without kid: err = %v, want invalid_token", err)
	}
	jwks, ok := tk.JWKS()
	if !ok {
		t.Fatal("JWKS not published for an Ed25519 key")
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS = %s, %v", jwks, err)
	}
	x, _ := base64.RawURLEncoding.DecodeString(set.Keys[0]["x"])
	if string(x) != string(pub) || set.Keys[0]["kid"] != tk.kid || set.Keys[0]["kty"] != "OKP" {
		t.Errorf("JWKS key = %v, want the public key with kid %s", set.Keys[0], tk.kid)
	}
	if _, ok := newTestTokens(t).JWKS(); ok {
		t.Error("JWKS published for a shared secret")
	}
}

func TestNewTokensRejectsShortSecret(t *testing.T) {
	_, err := NewTokens(TokenConfig{Secret: []byte("short")}, fixedClock)
	if err == nil {
		t.Fatal("NewTokens accepted a 5-byte secret")
	}
}

// FuzzParseToken: no input panics or is accepted unless we signed it
// (docs/security.md 30). Timing is bounded by MaxTokenBytes.
func FuzzParseToken(f *testing.F) {
	tk, err := NewTokens(TokenConfig{Issuer: "authfn", Audience: "authfn", TTL: time.Minute, Secret: testSecret}, fixedClock)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims()).SignedString(testSecret)
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Add(strings.Repeat(".", 1000))
	f.Add("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + strings.Repeat("A", 5000) + ".x")
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := tk.Parse(raw)
		if err == nil && raw != good {
			// Only a correctly signed token may pass; a mutation that still
			// verifies would be a forgery.
			if _, verr := jwt.Parse(raw, func(*jwt.Token) (any, error) { return testSecret, nil }, jwt.WithValidMethods([]string{"HS256"})); verr != nil {
				t.Fatalf("accepted a token that does not verify: %q (%+v)", raw, c)
			}
		}
	})
}
