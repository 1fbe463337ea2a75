package auth

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkTokens measures the CPU side of an authenticated request next
// to signing: the floor docs/architecture.md names is one Redis round trip plus this.
func BenchmarkTokens(b *testing.B) {
	tk, err := NewTokens(TokenConfig{Issuer: "authfn", Audience: "authfn", TTL: time.Minute, Secret: testSecret}, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	c := AccessClaims{RegisteredClaims: jwt.RegisteredClaims{Subject: "42", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), ID: "j"},
		SessionID: "s_AAAAAAAAAAAAAAAAAAAAAA", Username: "alice"}
	raw, err := tk.Sign(c)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Sign", func(b *testing.B) {
		for b.Loop() {
			if _, err := tk.Sign(c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Parse", func(b *testing.B) {
		for b.Loop() {
			if _, err := tk.Parse(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
