package login_test

import (
	"authfn/pkg/app"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestJWKSWithEdDSA: with an Ed25519 key the public half is served, public
// and cacheable, and it verifies the access tokens the service issues (the
// token's kid names it). testenv's OpenAPI check holds the body to the
// document's JWKSet schema.
func TestJWKSWithEdDSA(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := setup(t, func(c *app.Config) { c.JWTSecret, c.JWTPrivateKey = nil, key })
	f.CreateUser(t, "alice", password, false)

	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	resp := f.http.Do("GET", "/api/auth/v2/.well-known/jwks.json", nil).Want(200)
	if got := resp.Header().Get("Cache-Control"); got != "public, max-age=300" {
		t.Errorf("Cache-Control = %q, want public, max-age=300", got)
	}
	resp.JSON(&set)
	if len(set.Keys) != 1 {
		t.Fatalf("%d keys, want 1", len(set.Keys))
	}
	jwk := set.Keys[0]
	x, err := base64.RawURLEncoding.DecodeString(jwk["x"])
	if err != nil || len(x) != ed25519.PublicKeySize {
		t.Fatalf("x = %q: %v", jwk["x"], err)
	}

	p := f.Login(t, "alice", password)
	tok, err := jwt.Parse(p.AccessToken, func(tok *jwt.Token) (any, error) {
		if tok.Header["kid"] != jwk["kid"] {
			t.Errorf("token kid %v, JWKS kid %q", tok.Header["kid"], jwk["kid"])
		}
		return ed25519.PublicKey(x), nil
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer("authfn"), jwt.WithAudience("authfn"))
	if err != nil || !tok.Valid {
		t.Errorf("the served key does not verify an access token: %v", err)
	}
}

// TestJWKSRotationToES256: the service moves from an Ed25519 key to a P-256
// key with the old public key in JWT_VERIFY_KEYS. The JWKS publishes both;
// a token signed before the rotation still works and verifies with the key
// the JWKS names by its kid; new tokens are ES256 and verify with theirs.
func TestJWKSRotationToES256(t *testing.T) {
	_, oldKey, _ := ed25519.GenerateKey(rand.Reader)
	newKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	before := setup(t, func(c *app.Config) { c.JWTSecret, c.JWTPrivateKey = nil, oldKey })
	before.CreateUser(t, "alice", password, false)
	old := before.Login(t, "alice", password)

	rotated := *before.Env
	rotated.Config.JWTPrivateKey, rotated.Config.JWTVerifyKeys = newKey, []crypto.PublicKey{oldKey.Public()}
	f := serve(t, rotated.With(t, app.Backends{SQL: before.SQL, Redis: before.Redis}), web.Options{})

	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	f.http.Do("GET", "/api/auth/v2/.well-known/jwks.json", nil).Want(200).JSON(&set)
	byKid := map[string]any{}
	for _, k := range set.Keys {
		x, _ := base64.RawURLEncoding.DecodeString(k["x"])
		switch k["kty"] {
		case "OKP":
			byKid[k["kid"]] = ed25519.PublicKey(x)
		case "EC":
			y, _ := base64.RawURLEncoding.DecodeString(k["y"])
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
			if err != nil {
				t.Fatalf("JWK %v is not a P-256 point: %v", k, err)
			}
			byKid[k["kid"]] = pub
		}
	}
	if len(set.Keys) != 2 || set.Keys[0]["alg"] != "ES256" || set.Keys[1]["alg"] != "EdDSA" {
		t.Fatalf("JWKS = %v, want the ES256 key then the EdDSA one", set.Keys)
	}
	fromJWKS := func(tok *jwt.Token) (any, error) {
		k, ok := byKid[tok.Header["kid"].(string)]
		if !ok {
			return nil, fmt.Errorf("kid %v is not in the JWKS", tok.Header["kid"])
		}
		return k, nil
	}
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(old.AccessToken)...).Want(200)
	fresh := f.Login(t, "alice", password)
	for name, raw := range map[string]string{"before the rotation": old.AccessToken, "after it": fresh.AccessToken} {
		tok, err := jwt.Parse(raw, fromJWKS, jwt.WithValidMethods([]string{"ES256", "EdDSA"}), jwt.WithIssuer("authfn"), jwt.WithAudience("authfn"))
		if err != nil || !tok.Valid {
			t.Errorf("the token %s does not verify with the JWKS: %v", name, err)
		}
	}
	if tok, _, _ := jwt.NewParser().ParseUnverified(fresh.AccessToken, jwt.MapClaims{}); tok.Header["alg"] != "ES256" {
		t.Errorf("a new token's alg = %v, want ES256", tok.Header["alg"])
	}
}
