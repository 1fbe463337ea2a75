//go:build lambdatest

package lambdatest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"authfn/pkg/testenv"
)

// testMFA drives multi-factor authentication through the built login
// bootstrap: the admin enrols (codes computed from the shown secret, by
// pkg/totp and checked by pquerna/otp), then signs in: mfa_required with
// an mfa_token, then /login/mfa with a code gives tokens whose amr says
// pwd and otp. The admin turns MFA off again with a recovery code, so the
// other subtests keep signing in with the password alone. A migrate step
// started with another MFA_KEY refuses to run (the deploy stops there).
func testMFA(t *testing.T, fn map[string]*function, vars map[string]string, password string) {
	door := frontDoors[0]
	loginFn := fn["login"]
	pair := login(t, loginFn, door, password)
	call := func(method, path, body, bearer string) response {
		return loginFn.do(t, door, request{method: method, path: path, body: body, bearer: bearer})
	}

	resp := call("POST", "/api/auth/v2/me/mfa/totp", fmt.Sprintf(`{"current_password":%q}`, password), pair.AccessToken)
	resp.expect(t, "POST /me/mfa/totp", http.StatusOK)
	var start struct {
		Secret     string `json:"secret"`
		OTPAuthURL string `json:"otpauth_url"`
		QRPNG      string `json:"qr_png"`
	}
	resp.decode(t, &start)
	if !strings.HasPrefix(start.OTPAuthURL, "otpauth://totp/") || !strings.HasPrefix(start.QRPNG, "data:image/png;base64,") {
		t.Fatalf("enrolment = %s", resp.body)
	}
	resp = call("POST", "/api/auth/v2/me/mfa/totp/activate", fmt.Sprintf(`{"code":%q}`, testenv.TOTP(t, start.Secret, time.Now())), pair.AccessToken)
	resp.expect(t, "POST /me/mfa/totp/activate", http.StatusOK)
	var done struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	resp.decode(t, &done)
	if len(done.RecoveryCodes) != 10 {
		t.Fatalf("activation = %s, want 10 recovery codes", resp.body)
	}

	resp = call("POST", "/api/auth/v2/login", fmt.Sprintf(`{"username":"admin","password":%q}`, password), "")
	resp.expect(t, "POST /login with MFA on", http.StatusUnauthorized)
	var p struct {
		problem
		MFAToken string `json:"mfa_token"`
	}
	resp.decode(t, &p)
	if p.Code != "mfa_required" || p.MFAToken == "" {
		t.Fatalf("POST /login = %s, want mfa_required with an mfa_token", resp.body)
	}
	// The activating code's step is used: take the next step's code, which
	// one step of skew lets in.
	next := testenv.TOTP(t, start.Secret, time.Now().Add(30*time.Second))
	resp = call("POST", "/api/auth/v2/login/mfa", fmt.Sprintf(`{"mfa_token":%q,"code":%q}`, p.MFAToken, next), "")
	resp.expect(t, "POST /login/mfa", http.StatusOK)
	var mfa tokenPair
	resp.decode(t, &mfa)
	if got := accessAMR(t, mfa.AccessToken); !slices.Equal(got, []string{"pwd", "otp"}) {
		t.Errorf("amr = %v, want [pwd otp]", got)
	}
	call("GET", "/api/auth/v2/me", "", mfa.AccessToken).expect(t, "GET /me with the MFA session", http.StatusOK)
	resp = call("POST", "/api/auth/v2/login/mfa", fmt.Sprintf(`{"mfa_token":%q,"code":%q}`, p.MFAToken, next), "")
	resp.expect(t, "POST /login/mfa again", http.StatusUnauthorized)

	resp = call("DELETE", "/api/auth/v2/me/mfa/totp", fmt.Sprintf(`{"current_password":%q,"code":%q}`, password, done.RecoveryCodes[0]), mfa.AccessToken)
	resp.expect(t, "DELETE /me/mfa/totp", http.StatusNoContent)
	login(t, loginFn, door, password)

	wrong := map[string]string{"MFA_KEY": base64.StdEncoding.EncodeToString(randomBytes(32))}
	for _, k := range []string{"DATABASE_URL", "ADMIN_PASSWORD", "BCRYPT_COST"} {
		wrong[k] = vars[k]
	}
	migrate := startFunction(t, "MigrateFunction", "migrate", wrong)
	if _, msg := migrate.invokeError(t, map[string]any{}); !strings.Contains(msg, "MFA_KEY is not the key") || strings.Contains(msg, wrong["MFA_KEY"]) {
		t.Errorf("migrate with another MFA_KEY: error %q, want one naming MFA_KEY and not its value", msg)
	}

	for _, secret := range append([]string{start.Secret}, done.RecoveryCodes...) {
		if strings.Contains(loginFn.output(), secret) {
			t.Error("a TOTP secret or recovery code appears in the login function's output")
		}
	}
}

// accessAMR reads the amr claim of an access token without verifying it.
func accessAMR(t *testing.T, token string) []string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AMR []string `json:"amr"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.AMR
}
