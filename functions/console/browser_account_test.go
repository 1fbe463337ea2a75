//go:build browser

package console_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"authfn/pkg/auth"
	"authfn/pkg/testenv"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// testTheme: Dark applies at once, is saved through the API, and
// survives a reload, which keeps the sign-in through the refresh token in
// sessionStorage (and rotates it).
func testTheme(t *testing.T, b *browser) {
	svc := newService(t)
	svc.user("tess", "tess password 1", false)
	p := b.open(t, svc)
	p.signIn("tess", "tess password 1")
	p.waitHeading("My account")

	p.choose("", "Theme", "Dark")
	wait[bool](p, "html[data-theme=dark]", "document.documentElement.dataset.theme === 'dark'")
	tok := svc.login("tess", "tess password 1").AccessToken
	saved := eventually(func() bool {
		var prefs struct {
			Preferences map[string]any `json:"preferences"`
		}
		svc.want(200, "GET", "/preferences", tok, nil, &prefs)
		return prefs.Preferences["theme"] == "dark"
	})
	if !saved {
		t.Error("after picking Dark, GET /preferences does not say theme=dark")
	}

	before := p.refreshToken()
	p.do("reload", chromedp.Reload())
	p.waitSignedIn("tess")
	p.waitHeading("My account")
	if theme := eval[string](p, "document.documentElement.dataset.theme || ''"); theme != "dark" {
		t.Errorf("after a reload html[data-theme] is %q, want dark", theme)
	}
	if eval[bool](p, "!!control('Sign in', 'Username')") {
		t.Error("the sign-in form shows after a reload of a signed-in tab")
	}
	if after := p.refreshToken(); after == "" || after == before {
		t.Errorf("the reload did not sign in again with the stored refresh token (rotated: %v)", after != before)
	}
	p.screenshot("account-dark")
}

// testMFAEnrolment: in My account a user sets up MFA with their
// password, reads the secret (and the QR code, which holds it), activates
// it with a code, and gets ten recovery codes that the API accepts.
func testMFAEnrolment(t *testing.T, b *browser) {
	svc := newService(t)
	svc.user("finn", "finn password 1", false)
	p := b.open(t, svc)
	p.signIn("finn", "finn password 1")
	p.waitHeading("My account")
	p.waitText(whole, "This session")
	p.screenshot("account")

	p.fill("Set up MFA", "Current password", "finn password 1")
	p.click(inForm("Set up MFA"), "Set up MFA")
	qr := wait[string](p, "the QR code", "(i => i && i.src.startsWith('data:image/png') && i.src)(document.querySelector('img[alt=\"QR code\"]'))")
	secret := strings.Join(strings.Fields(wait[string](p, "the secret", "text(document.querySelector('.mfa-secret'))")), "")
	if uri := testenv.ScanQR(t, qr); !strings.Contains(uri, "secret="+secret) {
		t.Errorf("the QR code holds %q, not the secret shown, %q", uri, secret)
	}
	p.fill("Activate MFA", "Code", testenv.TOTP(t, secret, svc.env.Clock.Now()))
	p.click(inForm("Activate MFA"), "Activate")
	codes := wait[[]string](p, "ten recovery codes",
		"(li => li.length === 10 && li.map(l => norm(l.textContent)))([...document.querySelectorAll('ul.recovery-codes li')])")

	// The API: a password alone no longer signs finn in, and a recovery
	// code the page showed completes the sign-in of a user with MFA on.
	var challenge problem
	if code := svc.api("POST", "/login", "", map[string]string{"username": "finn", "password": "finn password 1"}, &challenge); code != 401 || challenge.Code != "mfa_required" {
		t.Fatalf("a login after enrolment = %d %+v, want 401 mfa_required", code, challenge)
	}
	var pair auth.TokenPair
	svc.want(200, "POST", "/login/mfa", "", map[string]string{"mfa_token": challenge.MFAToken, "code": codes[0]}, &pair)
	if !pair.User.MFAEnabled {
		t.Error("after Activate the API says mfa_enabled false")
	}
}
