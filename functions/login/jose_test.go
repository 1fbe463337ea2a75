//go:build jose

package login_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"authfn/pkg/app"
)

// TestJOSEVerifiesAccessTokens: the npm jose library, unchanged, verifies
// an ES256 access token of the service with keys it fetches from the
// JWKS (createRemoteJWKSet + jwtVerify), and refuses a tampered one. Run
// by `make test-jose`, which installs jose first.
func TestJOSEVerifiesAccessTokens(t *testing.T) {
	if _, err := os.Stat("../../clients/jose/node_modules/jose"); err != nil {
		t.Fatal("jose is not installed: run make test-jose (npm install in clients/jose)")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f, srv := startServer(t, func(url string) func(*app.Config) {
		return func(c *app.Config) {
			c.JWTSecret, c.JWTPrivateKey = nil, key
			c.JWTIssuer = url + "/api/auth/v2"
		}
	})
	alice := f.CreateUser(t, "alice", password, false)
	token := f.Login(t, "alice", password).AccessToken
	issuer := srv.URL + "/api/auth/v2"
	verify := func(tok string) (map[string]any, error) {
		cmd := exec.Command("node", "verify.mjs")
		cmd.Dir = "../../clients/jose"
		cmd.Env = append(os.Environ(), "JWKS_URL="+issuer+"/.well-known/jwks.json", "ISSUER="+issuer, "AUDIENCE="+f.Config.JWTAudience, "TOKEN="+tok)
		out, err := cmd.Output()
		var res map[string]any
		if jerr := json.Unmarshal(out, &res); jerr != nil {
			t.Fatalf("node printed %q: %v (%v)", out, jerr, err)
		}
		return res, err
	}
	res, err := verify(token)
	if err != nil {
		t.Fatalf("jose refused the access token: %v", res)
	}
	header, claims := res["header"].(map[string]any), res["claims"].(map[string]any)
	if header["alg"] != "ES256" || header["kid"] == "" || claims["sub"] != strconv.FormatInt(alice.ID, 10) || claims["iss"] != issuer {
		t.Errorf("jose verified %v, want an ES256 token of alice from %s", res, issuer)
	}
	parts := strings.Split(token, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "=") + "x." + parts[2]
	if res, err := verify(tampered); err == nil {
		t.Errorf("jose accepted a tampered token: %v", res)
	}
}
