package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func pemOf(t *testing.T, typ string, der []byte, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestParseSigningKey(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubDER, pubErr := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	pkcs8 := func(k any) string {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		return pemOf(t, "PRIVATE KEY", der, err)
	}
	sec1 := func(k *ecdsa.PrivateKey) string {
		der, err := x509.MarshalECPrivateKey(k)
		return pemOf(t, "EC PRIVATE KEY", der, err)
	}
	for name, v := range map[string]string{"P-256 PKCS#8": pkcs8(ec), "P-256 SEC1": sec1(ec)} {
		_, k, err := ParseSigningKey(v)
		if err != nil || !ec.Equal(k) {
			t.Errorf("%s: key %T, %v; want the P-256 key", name, k, err)
		}
	}
	if _, k, err := ParseSigningKey(pkcs8(ed)); err != nil || !ed.Equal(k) {
		t.Errorf("Ed25519: %v", err)
	}
	if s, k, err := ParseSigningKey("a plain secret"); err != nil || k != nil || string(s) != "a plain secret" {
		t.Errorf("secret: %q %v %v, want the raw bytes", s, k, err)
	}
	for name, v := range map[string]string{
		"P-384": pkcs8(p384), "P-384 SEC1": sec1(p384), "RSA": pkcs8(rsaKey),
		"garbage PEM": "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
		"two blocks":  pkcs8(ec) + pkcs8(ec), "public key": pemOf(t, "PUBLIC KEY", pubDER, pubErr),
	} {
		_, _, err := ParseSigningKey(v)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), strings.Split(strings.TrimSpace(v), "\n")[1]) {
			t.Errorf("%s: the error echoes the key: %v", name, err)
		}
	}
}

// TestES256 signs and verifies with a P-256 key; the kid is the RFC 7638
// thumbprint, computed here independently from the JWK the JWKS publishes.
func TestES256(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tk, err := NewTokens(TokenConfig{Issuer: "authfn", Audience: "authfn", TTL: time.Minute, PrivateKey: ec}, fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	raw := sign(t, tk)
	tok, _, err := jwt.NewParser().ParseUnverified(raw, &AccessClaims{})
	if err != nil || tok.Header["alg"] != "ES256" {
		t.Fatalf("header %v, %v; want ES256", tok.Header, err)
	}
	if _, err := tk.Parse(raw); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	jwks, ok := tk.JWKS()
	if !ok {
		t.Fatal("no JWKS for an ES256 key")
	}
	var set struct{ Keys []map[string]string }
	if err := json.Unmarshal(jwks, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", jwks, err)
	}
	k := set.Keys[0]
	x, _ := base64.RawURLEncoding.DecodeString(k["x"])
	y, _ := base64.RawURLEncoding.DecodeString(k["y"])
	if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" ||
		!bytes.Equal(append(append([]byte{4}, x...), y...), mustBytes(t, &ec.PublicKey)) {
		t.Errorf("JWK = %v, want the P-256 public key", k)
	}
	canon, _ := json.Marshal(map[string]string{"crv": k["crv"], "kty": k["kty"], "x": k["x"], "y": k["y"]}) // sorted keys
	sum := sha256.Sum256(canon)
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); k["kid"] != want || tok.Header["kid"] != want {
		t.Errorf("kid = %v (token %v), want the thumbprint %s", k["kid"], tok.Header["kid"], want)
	}
}

// TestRotation: a token signed with key A verifies after the service moved
// to key B with A in VerifyKeys; the JWKS has both; an unknown kid or an
// algorithm that is not its key's is refused.
func TestRotation(t *testing.T) {
	_, a, _ := ed25519.GenerateKey(rand.Reader)
	b, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	before, err := NewTokens(TokenConfig{Issuer: "authfn", Audience: "authfn", TTL: time.Minute, PrivateKey: a}, fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	old := sign(t, before)
	after, err := NewTokens(TokenConfig{Issuer: "authfn", Audience: "authfn", TTL: time.Minute, PrivateKey: b, VerifyKeys: []crypto.PublicKey{a.Public()}}, fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := after.Parse(old); err != nil {
		t.Errorf("a token of the earlier key after the rotation: %v", err)
	}
	if got := after.Algorithms(); len(got) != 2 || got[0] != "ES256" || got[1] != "EdDSA" {
		t.Errorf("Algorithms = %v, want [ES256 EdDSA]", got)
	}
	jwks, _ := after.JWKS()
	var set struct{ Keys []map[string]string }
	_ = json.Unmarshal(jwks, &set)
	if len(set.Keys) != 2 || set.Keys[0]["kid"] != after.kid || set.Keys[1]["kid"] != before.kid {
		t.Errorf("JWKS = %s, want the new key then the old", jwks)
	}
	hsOnly, err := NewTokens(TokenConfig{Issuer: "authfn", Audience: "authfn", TTL: time.Minute, Secret: testSecret, VerifyKeys: []crypto.PublicKey{a.Public()}}, fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hsOnly.Parse(old); err != nil {
		t.Errorf("back to HS256 with the old key kept: %v", err)
	}
	if _, err := hsOnly.Parse(sign(t, hsOnly)); err != nil {
		t.Errorf("an HS256 token: %v", err)
	}
	// alg confusion: the old key's kid on an ES256 token signed by another key.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged := jwt.NewWithClaims(jwt.SigningMethodES256, validClaims())
	forged.Header["kid"] = before.kid
	s, _ := forged.SignedString(other)
	unknown := jwt.NewWithClaims(jwt.SigningMethodEdDSA, validClaims())
	unknown.Header["kid"] = "not-a-kid-of-ours"
	u, _ := unknown.SignedString(a)
	for name, raw := range map[string]string{"ES256 with an EdDSA key's kid": s, "unknown kid": u} {
		if _, err := after.Parse(raw); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v, want invalid token", name, err)
		}
	}
}

// TestStrictTokens: what golang-jwt alone would let through is refused.
func TestStrictTokens(t *testing.T) {
	tk, err := NewTokens(TokenConfig{Issuer: "authfn", Audience: "authfn", TTL: time.Minute, Secret: testSecret}, fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	hs := func(c jwt.Claims, header map[string]any) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
		for k, v := range header {
			tok.Header[k] = v
		}
		s, err := tok.SignedString(testSecret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := validClaims()
	if _, err := tk.Parse(hs(good, nil)); err != nil {
		t.Fatalf("the well-formed token: %v", err)
	}
	asMap := func(change func(m jwt.MapClaims)) jwt.MapClaims {
		m := maps.Clone(good)
		change(m)
		return m
	}
	for name, raw := range map[string]string{
		"exp as a string":    hs(asMap(func(m jwt.MapClaims) { m["exp"] = "1999999999" }), nil),
		"iat as a string":    hs(asMap(func(m jwt.MapClaims) { m["iat"] = "1700000000" }), nil),
		"crit header":        hs(good, map[string]any{"crit": []string{"exp"}}),
		"sub 01":             hs(asMap(func(m jwt.MapClaims) { m["sub"] = "042" }), nil),
		"sub +1":             hs(asMap(func(m jwt.MapClaims) { m["sub"] = "+42" }), nil),
		"empty kid on HS256": hs(good, map[string]any{"kid": ""}),
		"a kid on HS256":     hs(good, map[string]any{"kid": "k1"}),
	} {
		if _, err := tk.Parse(raw); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v, want invalid token", name, err)
		}
	}
}

// sign returns a token tk signed for a valid session.
func sign(t *testing.T, tk *Tokens) string {
	t.Helper()
	raw, err := tk.Sign(AccessClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "42", IssuedAt: jwt.NewNumericDate(testNow), ExpiresAt: jwt.NewNumericDate(testNow.Add(time.Minute)), ID: "j"},
		SessionID:        "s_AAAAAAAAAAAAAAAAAAAAAA",
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func mustBytes(t *testing.T, k *ecdsa.PublicKey) []byte {
	t.Helper()
	b, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
