package login_test

import (
	"authfn/pkg/app"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
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
