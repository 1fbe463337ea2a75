//go:build browser

package console_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"authfn/pkg/auth"
)

// lastAdmin is the contract's wording for the last-admin 409; the page
// may show the problem's detail instead.
const lastAdmin = "You cannot remove the last active admin."

// testUsers: an admin creates, edits, deactivates and deletes a user in
// the Users view, and after each step the API says it happened.
func testUsers(t *testing.T, b *browser) {
	svc := newService(t)
	svc.user("ada", "ada password 1", true)
	p := b.open(t, svc)
	p.signIn("ada", "ada password 1")
	tok := svc.login("ada", "ada password 1").AccessToken

	p.follow(inNav, "Users")
	p.waitHeading("Users")
	wait[bool](p, "the users table", "!!row('ada') && [...document.querySelectorAll('caption')].some(c => norm(c.textContent) === 'Users')")

	// Create.
	p.click(whole, "New user")
	p.fill("New user", "Username", "carol")
	p.fill("New user", "Full name", "Carol Jones")
	p.fill("New user", "Password", "carol password 1")
	p.check("New user", "Admin", false)
	p.answer("status", inForm("New user"), "Create")
	p.waitText(inRow("carol"), "Carol Jones")
	carol := svc.userNamed(tok, "carol")
	if carol == nil || carol.FullName != "Carol Jones" || carol.IsAdmin || !carol.IsActive {
		t.Fatalf("after Create the API has carol as %+v", carol)
	}
	carolTokens := svc.login("carol", "carol password 1")
	p.screenshot("users")

	// Edit the full name.
	p.click(inRow("carol"), "Edit")
	p.fill("Edit user", "Full name", "Carol Smith")
	p.answer("status", inForm("Edit user"), "Save")
	p.waitText(inRow("carol"), "Carol Smith")
	if u := svc.apiUser(tok, carol.ID); u == nil || u.FullName != "Carol Smith" {
		t.Errorf("after Save the API has carol as %+v, want full name Carol Smith", u)
	}

	// Deactivate: carol can no longer sign in, and her session is over.
	p.click(inRow("carol"), "Edit")
	p.check("Edit user", "Active", false)
	p.answer("status", inForm("Edit user"), "Save")
	if u := svc.apiUser(tok, carol.ID); u == nil || u.IsActive {
		t.Errorf("after unchecking Active the API has carol as %+v", u)
	}
	var refused problem
	if code := svc.api("POST", "/login", "", map[string]string{"username": "carol", "password": "carol password 1"}, &refused); code != 401 {
		t.Errorf("a deactivated user's login = %d %+v, want 401", code, refused)
	}
	if code := svc.api("GET", "/me", carolTokens.AccessToken, nil, nil); code != 401 {
		t.Errorf("a deactivated user's access token at GET /me = %d, want 401", code)
	}

	// Delete, after the dialog.
	p.click(inRow("carol"), "Delete")
	p.waitText(inDialog, "Delete user carol?")
	p.answer("status", inDialog, "Delete")
	wait[bool](p, "carol's row to go", "!row('carol')")
	if u := svc.apiUser(tok, carol.ID); u != nil {
		t.Errorf("after Delete GET /users/%d still answers %+v", carol.ID, u)
	}
}

// testLastAdmin: the only admin cannot deactivate or delete themselves;
// the page says so in words, and the API still has them.
func testLastAdmin(t *testing.T, b *browser) {
	svc := newService(t)
	ada := svc.user("ada", "ada password 1", true)
	tok := svc.login("ada", "ada password 1").AccessToken
	var patch, del problem
	if code := svc.api("PATCH", "/users/"+itoa(ada.ID), tok, map[string]bool{"is_active": false}, &patch); code != 409 {
		t.Fatalf("the last admin deactivating themselves through the API = %d %+v, want 409", code, patch)
	}
	if code := svc.api("DELETE", "/users/"+itoa(ada.ID), tok, nil, &del); code != 409 {
		t.Fatalf("the last admin deleting themselves through the API = %d %+v, want 409", code, del)
	}
	readable := func(action, got, detail string) {
		t.Helper()
		if !strings.Contains(got, lastAdmin) && !strings.Contains(got, detail) {
			t.Errorf("%s: the alert says %q, want %q or the problem's detail %q", action, got, lastAdmin, detail)
		}
	}

	p := b.open(t, svc)
	p.signIn("ada", "ada password 1")
	p.follow(inNav, "Users")
	p.waitHeading("Users")
	p.click(inRow("ada"), "Edit")
	p.check("Edit user", "Active", false)
	readable("deactivate", p.answer("alert", inForm("Edit user"), "Save"), patch.Detail)

	// A reload clears the message, so the next one is the delete's.
	p.do("reload", chromedp.Reload())
	p.waitSignedIn("ada")
	p.waitHeading("Users")
	p.click(inRow("ada"), "Delete")
	p.waitText(inDialog, "Delete user ada?")
	readable("delete", p.answer("alert", inDialog, "Delete"), del.Detail)

	if u := svc.apiUser(tok, ada.ID); u == nil || !u.IsActive || !u.IsAdmin {
		t.Errorf("after the refused changes the API has ada as %+v", u)
	}
}

// testSessions: an admin sees another user's live session with its user
// agent and revokes it; that user's tokens are then refused.
func testSessions(t *testing.T, b *browser) {
	svc := newService(t)
	svc.user("ada", "ada password 1", true)
	svc.user("dave", "dave password 1", false)
	const ua = "DaveBrowser/2.0 (second device)"
	dave := svc.login("dave", "dave password 1", "User-Agent", ua)
	p := b.open(t, svc)
	p.signIn("ada", "ada password 1")

	p.follow(inNav, "Sessions")
	p.waitHeading("Sessions")
	p.waitText(inRow("dave"), ua)
	p.waitText(inRow("dave"), "127.0.0.1")
	if !eval[bool](p, "[...document.querySelectorAll('caption')].some(c => norm(c.textContent) === 'Live sessions')") {
		t.Error("no table captioned Live sessions")
	}
	p.screenshot("sessions")

	p.click(inRow("dave"), "Revoke all")
	wait[bool](p, "the confirmation dialog", "!!dialog()")
	p.answer("status", inDialog, "Revoke")
	wait[bool](p, "dave's row to go", "!row('dave')")

	if code := svc.api("GET", "/me", dave.AccessToken, nil, nil); code != 401 {
		t.Errorf("GET /me with a revoked session's access token = %d, want 401", code)
	}
	if code := svc.api("POST", "/refresh", "", map[string]string{"refresh_token": dave.RefreshToken}, nil); code != 401 {
		t.Errorf("POST /refresh with a revoked session's token = %d, want 401", code)
	}
}

// testAudit: the audit log shows sign-ins and the creation of a user, and
// its type filter shows exactly the API's events of that type.
func testAudit(t *testing.T, b *browser) {
	svc := newService(t)
	svc.user("ada", "ada password 1", true)
	tok := svc.login("ada", "ada password 1").AccessToken
	svc.want(201, "POST", "/users", tok, map[string]any{"username": "erin", "password": "erin password 1", "full_name": "Erin"}, nil)
	p := b.open(t, svc)
	p.signIn("ada", "ada password 1")

	p.follow(inNav, "Audit log")
	p.waitHeading("Audit log")
	wait[bool](p, "login.succeeded and user.created rows",
		"!!document.querySelector('tr[data-type=\"login.succeeded\"]') && !!document.querySelector('tr[data-type=\"user.created\"]')")
	if !eval[bool](p, "[...document.querySelectorAll('caption')].some(c => norm(c.textContent) === 'Events')") {
		t.Error("no table captioned Events")
	}
	p.screenshot("audit")

	// The Type select offers every event type of the OpenAPI document.
	type option struct{ Value, Text string }
	options := eval[[]option](p, "[...control('Filter events', 'Type').options].map(o => ({Value: o.value, Text: norm(o.textContent)}))")
	if len(options) == 0 || options[0].Text != "All types" {
		t.Errorf("the Type select starts with %+v, want All types", options)
	} else {
		var values []string
		for _, o := range options[1:] {
			values = append(values, o.Value)
		}
		if want := eventTypes(t); !slices.Equal(values, want) {
			t.Errorf("the Type select offers %q, want the EventType enum %q", values, want)
		}
	}

	p.choose("Filter events", "Type", "user.created")
	p.click(inForm("Filter events"), "Filter")
	shown := wait[int](p, "only user.created rows",
		"(rs => rs.length > 0 && rs.every(r => r.dataset.type === 'user.created') && rs.length)([...document.querySelectorAll('tr[data-type]')])")
	var events struct {
		Events []auth.Event `json:"events"`
	}
	svc.want(200, "GET", "/audit?type=user.created", tok, nil, &events)
	if shown != len(events.Events) {
		t.Errorf("the filtered log shows %d rows, the API has %d user.created events", shown, len(events.Events))
	}
	p.waitText("document.querySelector('tr[data-type=\"user.created\"]')", "erin")
}

// eventTypes is the EventType enum of pkg/apidoc/openapi.json.
func eventTypes(t *testing.T) []string {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "pkg", "apidoc", "openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas struct {
				EventType struct {
					Enum []string `json:"enum"`
				} `json:"EventType"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Components.Schemas.EventType.Enum
}

// testOverview: the cards show the API's counts, and the chart has a bar
// per hour for each series, the last hour's sign-ins and failures drawn.
func testOverview(t *testing.T, b *browser) {
	svc := newService(t)
	svc.user("ada", "ada password 1", true)
	svc.user("bob", "bob password 1", false)
	carl := svc.user("carl", "carl password 1", false)
	svc.user("mira", "mira password 1", false)
	tok := svc.login("ada", "ada password 1").AccessToken
	svc.login("bob", "bob password 1")
	svc.enrolMFA(svc.login("mira", "mira password 1").AccessToken, "mira password 1")
	svc.want(200, "PATCH", "/users/"+itoa(carl.ID), tok, map[string]bool{"is_active": false}, nil)
	svc.api("POST", "/login", "", map[string]string{"username": "bob", "password": "wrong password"}, nil)

	p := b.open(t, svc)
	p.signIn("ada", "ada password 1")
	p.waitHeading("Overview")
	cards := wait[map[string]string](p, "six stat cards", `(cs => cs.length >= 6 && Object.fromEntries(cs.map(c =>
  [norm(c.textContent.replace(/[0-9][0-9,]*/g, ' ')), (c.textContent.match(/[0-9][0-9,]*/) || [''])[0].replace(/,/g, '')])))(
  [...document.querySelectorAll('.stat')])`)

	var stats struct {
		Users struct {
			Total      int `json:"total"`
			Active     int `json:"active"`
			Admins     int `json:"admins"`
			MFAEnabled int `json:"mfa_enabled"`
		} `json:"users"`
		Sessions struct {
			ActiveSessions int `json:"active_sessions"`
			ActiveUsers    int `json:"active_users"`
		} `json:"sessions"`
	}
	svc.want(200, "GET", "/stats?hours=24", tok, nil, &stats)
	for label, want := range map[string]int{
		"Users": stats.Users.Total, "Active users": stats.Users.Active, "Admins": stats.Users.Admins,
		"MFA enabled": stats.Users.MFAEnabled, "Live sessions": stats.Sessions.ActiveSessions, "Signed-in users": stats.Sessions.ActiveUsers,
	} {
		if got, ok := cards[label]; !ok {
			t.Errorf("no card %q among %q", label, cards)
		} else if got != strconv.Itoa(want) {
			t.Errorf("the card %q says %q, the API %d", label, got, want)
		}
	}
	if stats.Users.Total != 4 || stats.Users.Active != 3 || stats.Users.MFAEnabled != 1 {
		t.Errorf("the API counts %+v: not the users the scenario made", stats.Users)
	}

	type chart struct {
		Title             string
		Succeeded, Failed int
		DrawnS, DrawnF    int
	}
	c := wait[chart](p, "the logins chart", `(svg => svg && ({
  Title: norm((document.getElementById(svg.getAttribute('aria-labelledby')) || {}).textContent),
  Succeeded: svg.querySelectorAll('rect.succeeded').length,
  Failed: svg.querySelectorAll('rect.failed').length,
  DrawnS: [...svg.querySelectorAll('rect.succeeded')].filter(r => r.getBBox().height > 0).length,
  DrawnF: [...svg.querySelectorAll('rect.failed')].filter(r => r.getBBox().height > 0).length,
}))(document.querySelector('svg[role=img]'))`)
	if c.Title != "Logins per hour, last 24 hours" {
		t.Errorf("the chart is titled %q", c.Title)
	}
	if c.Succeeded+c.Failed != 48 || c.Succeeded != 24 {
		t.Errorf("the chart has %d succeeded and %d failed bars, want 24 of each", c.Succeeded, c.Failed)
	}
	if c.DrawnS == 0 || c.DrawnF == 0 {
		t.Errorf("the chart draws %d succeeded and %d failed bars with a height; this hour had both", c.DrawnS, c.DrawnF)
	}
	p.screenshot("overview")
}
