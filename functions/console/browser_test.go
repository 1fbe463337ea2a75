//go:build browser

// The console in a real browser: headless Chromium (Debian's package)
// driven by chromedp, against the whole service in-process on real
// PostgreSQL and Redis. Each scenario does what a user does (labels,
// button texts, the keyboard) and then asks the API whether it happened.
// Run with `make test-browser`; screenshots of every page land in
// build/screenshots (or $SCREENSHOT_DIR).
package console_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"authfn/pkg/auth"
)

// TestBrowser runs every scenario in one Chromium, each in a fresh
// browser context on a fresh service.
func TestBrowser(t *testing.T) {
	b := startBrowser(t)
	for _, s := range []struct {
		name string
		run  func(*testing.T, *browser)
	}{
		{"AdminSignIn", testAdminSignIn},
		{"MFASignIn", testMFASignIn},
		{"Keyboard", testKeyboard},
		{"NonAdmin", testNonAdmin},
		{"SignOut", testSignOut},
		{"Users", testUsers},
		{"LastAdmin", testLastAdmin},
		{"Sessions", testSessions},
		{"Audit", testAudit},
		{"Overview", testOverview},
		{"Theme", testTheme},
		{"MFAEnrolment", testMFAEnrolment},
		{"Docs", testDocs},
	} {
		t.Run(s.name, func(t *testing.T) { s.run(t, b) })
	}
}

// openConsole loads the console and waits for the sign-in form.
func (p *tab) openConsole() {
	p.t.Helper()
	p.do("open the console", chromedp.Navigate(p.origin+consolePath))
	wait[bool](p, "the sign-in form", "!!control('Sign in', 'Username')")
}

// signIn signs in with the sign-in form, as a user without MFA.
func (p *tab) signIn(username, password string) {
	p.t.Helper()
	p.openConsole()
	p.fill("Sign in", "Username", username)
	p.fill("Sign in", "Password", password)
	p.click(inForm("Sign in"), "Sign in")
	p.waitSignedIn(username)
}

// waitSignedIn waits for the shell: the header names the user and offers
// Sign out.
func (p *tab) waitSignedIn(username string) {
	p.t.Helper()
	p.waitText(inHeader, username)
	wait[bool](p, "the Sign out button", "!!button("+inHeader+", 'Sign out')")
}

// navLinks are the texts of the main navigation's visible links.
func (p *tab) navLinks() []string {
	p.t.Helper()
	return eval[[]string](p, "[...document.querySelectorAll('nav[aria-label=Main] a')].filter(shown).map(a => norm(a.textContent))")
}

func (p *tab) refreshToken() string {
	p.t.Helper()
	return eval[string](p, "sessionStorage.getItem('authfn.refresh') || ''")
}

const chromeUA = "Chrome/"

// testAdminSignIn: wrong credentials show the API's own words; the right
// ones show the admin's shell on the overview; the API then lists a
// session of this browser; the access token is nowhere in storage.
func testAdminSignIn(t *testing.T, b *browser) {
	svc := newService(t)
	ada := svc.user("ada", "ada password 1", true)
	p := b.open(t, svc)

	p.openConsole()
	p.screenshot("sign-in")

	var refused problem
	if code := svc.api("POST", "/login", "", map[string]string{"username": "ada", "password": "not the password"}, &refused); code != 401 || refused.Detail == "" {
		t.Fatalf("a wrong password through the API: %d %+v", code, refused)
	}
	p.fill("Sign in", "Username", "ada")
	p.fill("Sign in", "Password", "not the password")
	if got := p.answer("alert", inForm("Sign in"), "Sign in"); !strings.Contains(got, refused.Detail) {
		t.Errorf("wrong credentials: the alert says %q, want the problem's detail %q", got, refused.Detail)
	}

	p.fill("Sign in", "Password", "ada password 1")
	p.click(inForm("Sign in"), "Sign in")
	p.waitSignedIn("ada")
	p.waitText(inHeader, "authfn console")
	p.waitHeading("Overview")
	if hash := eval[string](p, "location.hash"); hash != "#/overview" {
		t.Errorf("an admin lands on %q, want #/overview", hash)
	}
	if got, want := p.navLinks(), []string{"Overview", "Users", "Sessions", "Audit log", "My account"}; !slices.Equal(got, want) {
		t.Errorf("the admin's navigation is %q, want %q", got, want)
	}
	if cur := eval[string](p, "norm((document.querySelector('nav[aria-label=Main] a[aria-current=page]') || {}).textContent)"); cur != "Overview" {
		t.Errorf("the current link is %q, want Overview", cur)
	}
	if p.refreshToken() == "" {
		t.Error("no refresh token in sessionStorage (authfn.refresh): a reload would sign the user out")
	}
	jwt := regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`) // a JWT starts with {"
	for _, v := range eval[[]string](p, "Object.values(sessionStorage)") {
		if jwt.MatchString(v) {
			t.Errorf("sessionStorage holds an access token (%.20s...): it must live only in memory", v)
		}
	}

	// The API: the admin now has this browser's session.
	tok := svc.login("ada", "ada password 1").AccessToken
	var list struct {
		Sessions []auth.Session `json:"sessions"`
	}
	svc.want(200, "GET", "/sessions/"+itoa(ada.ID), tok, nil, &list)
	if !slices.ContainsFunc(list.Sessions, func(s auth.Session) bool { return strings.Contains(s.UserAgent, chromeUA) }) {
		t.Errorf("the API lists no session of the browser for ada: %+v", list.Sessions)
	}
}

// testMFASignIn: a user with MFA on gets the Code step after the
// password, and a current TOTP code signs them in.
func testMFASignIn(t *testing.T, b *browser) {
	svc := newService(t)
	svc.user("mira", "mira password 1", false)
	first := svc.login("mira", "mira password 1")
	secret := svc.enrolMFA(first.AccessToken, "mira password 1")
	p := b.open(t, svc)

	p.openConsole()
	p.fill("Sign in", "Username", "mira")
	p.fill("Sign in", "Password", "mira password 1")
	p.click(inForm("Sign in"), "Sign in")
	wait[bool](p, "the Code step", "!!control('Two-factor code', 'Code')")
	if eval[bool](p, "!!button("+inHeader+", 'Sign out')") {
		t.Fatal("signed in before the second factor")
	}
	p.fill("Two-factor code", "Code", svc.env.NextCode(t, secret))
	p.click(inForm("Two-factor code"), "Verify")
	p.waitSignedIn("mira")
	p.waitHeading("My account")

	var mine struct {
		Sessions []auth.Session `json:"sessions"`
	}
	svc.want(200, "GET", "/me/sessions", first.AccessToken, nil, &mine)
	if len(mine.Sessions) != 2 || !slices.ContainsFunc(mine.Sessions, func(s auth.Session) bool { return strings.Contains(s.UserAgent, chromeUA) }) {
		t.Errorf("after the browser's MFA sign-in the API lists %+v, want the API's session and the browser's", mine.Sessions)
	}
}

// testKeyboard: signing in and moving around need no mouse: Tab reaches
// the fields in order with a visible focus, Enter submits and follows.
func testKeyboard(t *testing.T, b *browser) {
	svc := newService(t)
	svc.user("kim", "kim password 1", true)
	p := b.open(t, svc)

	p.openConsole()
	p.tabTo("the Username field", "document.activeElement === control('Sign in', 'Username')")
	p.keys("kim")
	p.keys(kb.Tab)
	if !eval[bool](p, "document.activeElement === control('Sign in', 'Password')") {
		t.Fatalf("Tab from Username does not reach Password\n%s", p.shows())
	}
	p.keys("kim password 1")
	p.keys(kb.Enter)
	p.waitSignedIn("kim")
	p.waitHeading("Overview")

	p.tabTo("the Users link", "document.activeElement === link("+inNav+", 'Users')")
	p.keys(kb.Enter)
	p.waitHeading("Users")

	var events struct {
		Events []auth.Event `json:"events"`
	}
	tok := svc.login("kim", "kim password 1").AccessToken
	svc.want(200, "GET", "/audit?type=login.succeeded", tok, nil, &events)
	if !slices.ContainsFunc(events.Events, func(e auth.Event) bool { return e.Username == "kim" && strings.Contains(e.UserAgent, chromeUA) }) {
		t.Errorf("the audit log has no sign-in of kim from the browser: %+v", events.Events)
	}
}

// tabTo presses Tab until isThere holds (at most 40 times), and checks
// that the focused element shows its focus.
func (p *tab) tabTo(what, isThere string) {
	p.t.Helper()
	for range 40 {
		if eval[bool](p, isThere) {
			focus := eval[bool](p, `(el => { const s = getComputedStyle(el);
  return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none'; })(document.activeElement)`)
			if !focus {
				p.t.Errorf("%s has the focus but shows no outline or shadow", what)
			}
			return
		}
		p.keys(kb.Tab)
	}
	p.t.Fatalf("Tab never reaches %s\n%s", what, p.shows())
}

// testNonAdmin: a user without admin rights sees only My account, also
// when they ask for an admin view by its address; the API agrees that
// the admin routes are not theirs.
func testNonAdmin(t *testing.T, b *browser) {
	svc := newService(t)
	svc.user("ada", "ada password 1", true)
	svc.user("nora", "nora password 1", false)
	p := b.open(t, svc)

	p.signIn("nora", "nora password 1")
	p.waitHeading("My account")
	if hash := eval[string](p, "location.hash"); hash != "#/account" {
		t.Errorf("a non-admin lands on %q, want #/account", hash)
	}
	if got := p.navLinks(); !slices.Equal(got, []string{"My account"}) {
		t.Errorf("a non-admin's navigation is %q, want only My account", got)
	}
	eval[bool](p, "(location.hash = '#/users', true)")
	p.do("let the page route", chromedp.Sleep(300*time.Millisecond))
	p.waitHeading("My account")
	if eval[bool](p, "[...document.querySelectorAll('caption')].some(c => shown(c) && norm(c.textContent) === 'Users')") {
		t.Error("#/users shows the users table to a non-admin")
	}

	tok := svc.login("nora", "nora password 1").AccessToken
	if code := svc.api("GET", "/users", tok, nil, nil); code != 403 {
		t.Errorf("GET /users as a non-admin = %d, want 403", code)
	}
}

// testSignOut: Sign out returns to the sign-in form, forgets the refresh
// token, and the API refuses that token afterwards.
func testSignOut(t *testing.T, b *browser) {
	svc := newService(t)
	svc.user("sam", "sam password 1", false)
	p := b.open(t, svc)

	p.signIn("sam", "sam password 1")
	refresh := p.refreshToken()
	if refresh == "" {
		t.Fatal("no refresh token in sessionStorage after sign-in")
	}
	p.click(inHeader, "Sign out")
	wait[bool](p, "the sign-in form", "!!control('Sign in', 'Username') && !button("+inHeader+", 'Sign out')")
	if left := eval[int](p, "sessionStorage.length"); left != 0 {
		t.Errorf("sessionStorage keeps %d items after sign-out", left)
	}
	p.do("reload", chromedp.Reload())
	wait[bool](p, "the sign-in form after a reload", "!!control('Sign in', 'Username')")

	var refused problem
	if code := svc.api("POST", "/refresh", "", map[string]string{"refresh_token": refresh}, &refused); code != 401 {
		t.Errorf("POST /refresh with the signed-out refresh token = %d %+v, want 401", code, refused)
	}
}

// testDocs: the API reference renders the document with Swagger UI, from
// this origin only, without an error.
func testDocs(t *testing.T, b *browser) {
	svc := newService(t)
	p := b.open(t, svc)
	p.do("open the reference", chromedp.Navigate(p.origin+"/api/auth/v2/docs"))
	wait[bool](p, "the operations", "document.querySelectorAll('.opblock').length > 20")
	p.waitText(whole, "/login")
	p.waitText(whole, "/me/sessions")
	p.screenshot("docs")
}
