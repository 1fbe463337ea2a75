package authorizer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"authfn/functions/authorizer"
	"authfn/pkg/app"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

// BenchmarkVerify measures GET /verify and one warm authorizer invocation
// (HTTP API 2.0) next to their floor measured in the same run: one Redis
// round trip plus one ES256 signature check of the same token with the
// same library. `make bench` prints each as a ratio to Floor.
func BenchmarkVerify(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	env := testenv.New(b, func(c *app.Config) { c.JWTSecret, c.JWTPrivateKey = nil, key })
	env.CreateUser(b, "alice", password, false)
	ctx := context.Background()
	pair, err := env.Auth.Sessions.Login(ctx, "alice", password)
	if err != nil {
		b.Fatal(err)
	}
	h := env.Serve(b, web.Options{}, "LoginFunction").Handler
	authz := authorizer.Handler(slog.New(slog.DiscardHandler), env.Auth.Sessions)
	event := kinds[0].event("Bearer " + pair.AccessToken)
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"ES256"}))
	b.Run("Floor", func(b *testing.B) {
		for b.Loop() {
			if err := env.Redis.Ping(ctx).Err(); err != nil {
				b.Fatal(err)
			}
			if _, err := parser.Parse(pair.AccessToken, func(*jwt.Token) (any, error) { return &key.PublicKey, nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetVerify", func(b *testing.B) {
		for b.Loop() {
			req := httptest.NewRequest("GET", "/api/auth/v2/verify", nil)
			req.Header.Set("Authorization", "Bearer "+pair.AccessToken)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
	b.Run("Authorizer", func(b *testing.B) {
		for b.Loop() {
			out, err := authz(ctx, event)
			if err != nil {
				b.Fatal(err)
			}
			if r, ok := out.(events.APIGatewayV2CustomAuthorizerSimpleResponse); !ok || !r.IsAuthorized {
				b.Fatalf("answer %v, want allowed", out)
			}
		}
	})
}
