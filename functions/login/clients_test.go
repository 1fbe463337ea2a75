package login_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"authfn/pkg/app"
	"authfn/pkg/auth"
	"authfn/pkg/web"
)

// startServer serves the login group of f over real HTTP on a listener
// opened before f is built, so that the configuration (JWT_ISSUER) can
// name the server's URL. Every exchange is held to the OpenAPI document.
func startServer(t *testing.T, change ...func(url string) func(*app.Config)) (*fixture, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	url := "http://" + srv.Listener.Addr().String()
	var changes []func(*app.Config)
	for _, c := range change {
		changes = append(changes, c(url))
	}
	f := setup(t, changes...)
	srv.Config.Handler = validating(t, f.handler)
	srv.Start()
	t.Cleanup(srv.Close)
	return f, srv
}

// TestOAuth2ClientLibrary: golang.org/x/oauth2, unchanged, logs in with
// the password grant, refreshes an expired token through /token, and
// reads a failed refresh as RFC 6749's invalid_grant.
func TestOAuth2ClientLibrary(t *testing.T) {
	f, srv := startServer(t)
	alice := f.CreateUser(t, "alice", password, false)
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, srv.Client())
	cfg := &oauth2.Config{
		ClientID: "cli",
		Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/api/auth/v2/token", AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{"openid"},
	}

	tok, err := cfg.PasswordCredentialsToken(ctx, "alice", password)
	if err != nil {
		t.Fatalf("PasswordCredentialsToken = %v", err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Type() != "Bearer" || time.Until(tok.Expiry) < 29*time.Minute {
		t.Fatalf("token = %+v, want a bearer pair valid for 30 minutes", tok)
	}
	if sid, _ := tok.Extra("session_id").(string); sid == "" {
		t.Errorf("extra session_id = %v, want the session id", tok.Extra("session_id"))
	}
	me := func(c *http.Client) int {
		t.Helper()
		resp, err := c.Get(srv.URL + "/api/auth/v2/me")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := me(cfg.Client(ctx, tok)); got != 200 {
		t.Errorf("GET /me with the library's client = %d, want 200", got)
	}

	// The access token has expired (for the library, by its own clock);
	// the token source refreshes it through /token.
	f.Clock.Advance(f.Config.AccessTokenTTL + time.Minute)
	tok.Expiry = time.Now().Add(-time.Minute)
	next, err := cfg.TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatalf("TokenSource.Token (refresh) = %v", err)
	}
	if next.AccessToken == tok.AccessToken || next.RefreshToken == tok.RefreshToken || !next.Valid() {
		t.Fatalf("refreshed token = %+v, want a new valid pair", next)
	}
	var u auth.User
	req, _ := http.NewRequest("GET", srv.URL+"/api/auth/v2/me", nil)
	next.SetAuthHeader(req)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&u); err != nil || resp.StatusCode != 200 || u.ID != alice.ID {
		t.Errorf("GET /me with the refreshed token = %d %+v %v, want alice", resp.StatusCode, u, err)
	}
	resp.Body.Close()

	// The rotated-out refresh token, a forged one and a wrong password
	// are each a RetrieveError with ErrorCode invalid_grant.
	for name, get := range map[string]func() (*oauth2.Token, error){
		"rotated-out refresh token": func() (*oauth2.Token, error) {
			return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
		},
		"bad refresh token": func() (*oauth2.Token, error) {
			return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: "r1.garbage", Expiry: time.Now().Add(-time.Minute)}).Token()
		},
		"wrong password": func() (*oauth2.Token, error) { return cfg.PasswordCredentialsToken(ctx, "alice", "wrong password") },
	} {
		t.Run(name, func(t *testing.T) {
			_, err := get()
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v (%T), want *oauth2.RetrieveError", err, err)
			}
			if re.ErrorCode != web.OAuthInvalidGrant || re.Response.StatusCode != 400 || re.ErrorDescription == "" {
				t.Errorf("RetrieveError code %q status %d description %q, want invalid_grant 400", re.ErrorCode, re.Response.StatusCode, re.ErrorDescription)
			}
		})
	}
}

func edDSA(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestDiscoveryOIDCLibrary: with an ES256 or Ed25519 key and JWT_ISSUER the public
// URL of the base path, coreos/go-oidc's NewProvider accepts the document,
// its endpoints are the service's, and its verifier, fed from the JWKS it
// found, verifies an access token from /token (docs/security.md 31: iss
// equals the discovery issuer).
func TestDiscoveryOIDCLibrary(t *testing.T) {
	es, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// ES256 is what API Gateway's JWT authorizers accept; EdDSA the other
	// key pair the service signs with.
	t.Run("ES256", func(t *testing.T) { testDiscoveryOIDCLibrary(t, es, oidc.ES256) })
	t.Run("EdDSA", func(t *testing.T) { testDiscoveryOIDCLibrary(t, edDSA(t), oidc.EdDSA) })
}

func testDiscoveryOIDCLibrary(t *testing.T, key crypto.Signer, alg string) {
	f, srv := startServer(t, func(url string) func(*app.Config) {
		return func(c *app.Config) {
			c.JWTSecret, c.JWTPrivateKey = nil, key
			c.JWTIssuer = url + "/api/auth/v2"
		}
	})
	alice := f.CreateUser(t, "alice", password, false)
	issuer := srv.URL + "/api/auth/v2"
	ctx := oidc.ClientContext(t.Context(), srv.Client())

	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatalf("oidc.NewProvider = %v", err)
	}
	ep := provider.Endpoint()
	if ep.TokenURL != issuer+"/token" {
		t.Errorf("token endpoint %q, want %q", ep.TokenURL, issuer+"/token")
	}
	var meta struct {
		Revocation string   `json:"revocation_endpoint"`
		UserInfo   string   `json:"userinfo_endpoint"`
		Algs       []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if meta.Revocation != issuer+"/revoke" || meta.UserInfo != issuer+"/me" || len(meta.Algs) != 1 || meta.Algs[0] != alg {
		t.Errorf("metadata %+v, want the service's endpoints and %s", meta, alg)
	}

	// The provider's own endpoint works with x/oauth2.
	cfg := &oauth2.Config{Endpoint: ep}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	tok, err := cfg.PasswordCredentialsToken(ctx, "alice", password)
	if err != nil {
		t.Fatalf("PasswordCredentialsToken via the discovered endpoint = %v", err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: f.Config.JWTAudience, SupportedSigningAlgs: []string{alg}})
	idt, err := verifier.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("go-oidc Verify of an access token = %v", err)
	}
	if idt.Issuer != issuer || idt.Subject != strconv.FormatInt(alice.ID, 10) {
		t.Errorf("verified token iss %q sub %q, want %q and alice", idt.Issuer, idt.Subject, issuer)
	}
	// The verifier checks the audience: another client id is refused.
	other := provider.Verifier(&oidc.Config{ClientID: "someone-else", SupportedSigningAlgs: []string{alg}})
	if _, err := other.Verify(ctx, tok.AccessToken); err == nil {
		t.Error("a verifier for another audience accepted the token")
	}
}

// TestDiscoveryDocument: the document's headers and fields, the
// endpoints built from the request when the issuer is not a URL, and 404
// when tokens are signed with a shared secret.
func TestDiscoveryDocument(t *testing.T) {
	const path = "/api/auth/v2/.well-known/openid-configuration"
	key := edDSA(t)
	f := setup(t, func(c *app.Config) { c.JWTSecret, c.JWTPrivateKey = nil, key })

	get := func(headers ...string) map[string]any {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		req.Host = "auth.example.com"
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, req)
		checkOAuthExchange(t, req, nil, rec.Code, rec.Header(), rec.Body.Bytes())
		if rec.Code != 200 {
			t.Fatalf("status %d, want 200 (%s)", rec.Code, rec.Body)
		}
		for h, want := range map[string]string{"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*", "Content-Type": "application/json"} {
			if got := rec.Header().Get(h); got != want {
				t.Errorf("%s = %q, want %q", h, got, want)
			}
		}
		var doc map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		return doc
	}
	doc := get()
	for k, want := range map[string]any{
		"issuer":                                     "authfn",
		"jwks_uri":                                   "http://auth.example.com/api/auth/v2/.well-known/jwks.json",
		"token_endpoint":                             "http://auth.example.com/api/auth/v2/token",
		"revocation_endpoint":                        "http://auth.example.com/api/auth/v2/revoke",
		"userinfo_endpoint":                          "http://auth.example.com/api/auth/v2/me",
		"grant_types_supported":                      []any{"password", "refresh_token"},
		"response_types_supported":                   []any{"token"},
		"subject_types_supported":                    []any{"public"},
		"id_token_signing_alg_values_supported":      []any{"EdDSA"},
		"token_endpoint_auth_methods_supported":      []any{"none"},
		"revocation_endpoint_auth_methods_supported": []any{"none"},
	} {
		if got, w := mustJSON(doc[k]), mustJSON(want); got != w {
			t.Errorf("%s = %s, want %s", k, got, w)
		}
	}
	if got := get("X-Forwarded-Proto", "https")["token_endpoint"]; got != "https://auth.example.com/api/auth/v2/token" {
		t.Errorf("behind TLS: token_endpoint %v, want https", got)
	}
	// The issuer of every token is the document's.
	f.CreateUser(t, "alice", password, false)
	claims := jwtClaims(t, f.Login(t, "alice", password).AccessToken)
	if claims["iss"] != doc["issuer"] {
		t.Errorf("token iss %v, discovery issuer %v", claims["iss"], doc["issuer"])
	}
	// The JWKS is public for browsers too.
	if got := f.http.Do("GET", "/api/auth/v2/.well-known/jwks.json", nil).Want(200).Header().Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("JWKS Access-Control-Allow-Origin = %q, want *", got)
	}

	hs := setup(t)
	hs.http.Do("GET", path, nil).Want(404, "not_found")
}

// jwtClaims decodes a JWT's claims without verifying it.
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}
