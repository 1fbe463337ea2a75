package sessions_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
	"authfn/pkg/testenv"
)

func TestUserSessionList(t *testing.T) {
	t.Parallel()
	f := setup(t)
	alice, bob, carol := f.user(t, "alice"), f.user(t, "bob"), f.user(t, "carol")
	f.Clock.Advance(time.Second)
	t1 := f.Clock.Now().UTC()
	a1 := f.Login(t, "alice", password, "User-Agent", "UA-1")
	f.Clock.Advance(time.Second)
	t2 := f.Clock.Now().UTC()
	a2 := f.Login(t, "alice", password, "User-Agent", "UA-2")
	b1 := f.Login(t, "bob", password)

	want := []auth.Session{
		{ID: a1.SessionID, UserID: alice.ID, Username: "alice", CreatedAt: t1, LastSeenAt: t1, ExpiresAt: t1.Add(idle), IP: "192.0.2.10", UserAgent: "UA-1"},
		{ID: a2.SessionID, UserID: alice.ID, Username: "alice", CreatedAt: t2, LastSeenAt: t2, ExpiresAt: t2.Add(idle), IP: "192.0.2.10", UserAgent: "UA-2"},
	}
	if diff := cmp.Diff(want, f.userSessions(t, alice.ID)); diff != "" {
		t.Errorf("alice's sessions (-want +got):\n%s", diff)
	}
	if got := sessionIDs(f.userSessions(t, bob.ID)); !slices.Equal(got, []string{b1.SessionID}) {
		t.Errorf("bob's sessions = %v, want [%s]", got, b1.SessionID)
	}
	// The admin's own list marks the calling session.
	own := f.userSessions(t, f.admin.ID)
	if len(own) != 1 || own[0].ID != f.adminPair.SessionID || !own[0].Current {
		t.Errorf("the admin's own sessions = %+v, want the current one", own)
	}
	// A user without sessions gets an empty list, not null.
	r := f.as(t, "GET", sessionsPath(carol.ID), nil).Want(200)
	if got := strings.TrimSpace(r.Body.String()); got != `{"sessions":[]}` {
		t.Errorf("carol's sessions = %s, want {\"sessions\":[]}", got)
	}
	for _, id := range []string{"999999", "abc", "0", "-1", "1.0"} {
		t.Run(id, func(t *testing.T) {
			f.as(t, "GET", base+"/sessions/"+id, nil).Want(404, "not_found")
		})
	}
	// Expired sessions are not listed.
	f.Clock.Advance(idle - time.Second) // a1 ends at t1+idle, a2 one second later
	f.adminPair = f.Login(t, "root", adminPassword)
	f.adminAuthz = testenv.Bearer(f.adminPair.AccessToken)
	if got := sessionIDs(f.userSessions(t, alice.ID)); !slices.Equal(got, []string{a2.SessionID}) {
		t.Errorf("alice's sessions after a1 expired = %v, want [%s]", got, a2.SessionID)
	}
	f.Clock.Advance(time.Second)
	if got := f.userSessions(t, alice.ID); len(got) != 0 {
		t.Errorf("alice's sessions after both expired = %v, want none", sessionIDs(got))
	}
}

func TestRevokeUserSessions(t *testing.T) {
	t.Parallel()
	f := setup(t)
	alice, bob, carol := f.user(t, "alice"), f.user(t, "bob"), f.user(t, "carol")
	var pairs []auth.TokenPair
	for range 3 {
		pairs = append(pairs, f.Login(t, "alice", password))
	}
	// One of them has been refreshed: its newest pair must die too.
	var fresh auth.TokenPair
	f.do(t, "POST", base+"/refresh", map[string]string{"refresh_token": pairs[2].RefreshToken}).Want(200).JSON(&fresh)
	pairs[2] = fresh
	b1 := f.Login(t, "bob", password)
	if st := f.stats(t); st != (auth.SessionStats{ActiveSessions: 5, ActiveUsers: 3}) {
		t.Fatalf("stats before = %+v, want 5 sessions of 3 users", st)
	}

	var out struct {
		Revoked *int `json:"revoked"`
	}
	f.as(t, "DELETE", sessionsPath(alice.ID), nil).Want(200).JSON(&out)
	if out.Revoked == nil || *out.Revoked != 3 {
		t.Fatalf("revoked = %v, want 3", out.Revoked)
	}
	// Every token of those sessions fails on its next request (docs/security.md 21).
	for _, p := range pairs {
		r := f.do(t, "GET", base+"/me/sessions", nil, testenv.Bearer(p.AccessToken)...).Want(401, "invalid_token")
		if got, want := r.Header().Get("WWW-Authenticate"), `Bearer error="invalid_token"`; got != want {
			t.Errorf("WWW-Authenticate = %q, want %q", got, want)
		}
		f.do(t, "POST", base+"/refresh", map[string]string{"refresh_token": p.RefreshToken}).Want(401)
	}
	// Others are untouched; the totals drop.
	f.do(t, "GET", base+"/me", nil, testenv.Bearer(b1.AccessToken)...).Want(200)
	if got := f.userSessions(t, alice.ID); len(got) != 0 {
		t.Errorf("alice's sessions after revocation = %v", sessionIDs(got))
	}
	if got := sessionIDs(f.list(t, 200, "").Sessions); !slices.Equal(got, []string{f.adminPair.SessionID, b1.SessionID}) {
		t.Errorf("sessions after revocation = %v, want the admin's and bob's", got)
	}
	if st := f.stats(t); st != (auth.SessionStats{ActiveSessions: 2, ActiveUsers: 2}) {
		t.Errorf("stats after = %+v, want 2 sessions of 2 users", st)
	}
	// Alice may log in again; the new session is unaffected by the old revocation.
	a := f.Login(t, "alice", password)
	f.do(t, "GET", base+"/me", nil, testenv.Bearer(a.AccessToken)...).Want(200)

	for _, tc := range []struct {
		id   int64
		want int
	}{
		{carol.ID, 0}, // no sessions: 0, not 404
		{bob.ID, 1},
		{bob.ID, 0}, // again
	} {
		f.as(t, "DELETE", sessionsPath(tc.id), nil).Want(200).JSON(&out)
		if out.Revoked == nil || *out.Revoked != tc.want {
			t.Errorf("DELETE sessions of %d: revoked = %v, want %d", tc.id, out.Revoked, tc.want)
		}
	}
	f.do(t, "GET", base+"/me/sessions", nil, testenv.Bearer(b1.AccessToken)...).Want(401)
	for _, id := range []string{"999999", "abc", "0", "-1"} {
		f.as(t, "DELETE", base+"/sessions/"+id, nil).Want(404, "not_found")
	}
}

// TestRevokeOwnSessions: an admin revoking their own sessions ends the
// very token that asked.
func TestRevokeOwnSessions(t *testing.T) {
	t.Parallel()
	f := setup(t)
	other := f.Login(t, "root", adminPassword)
	var out struct{ Revoked int }
	f.as(t, "DELETE", sessionsPath(f.admin.ID), nil).Want(200).JSON(&out)
	if out.Revoked != 2 {
		t.Errorf("revoked = %d, want 2", out.Revoked)
	}
	f.as(t, "GET", base+"/sessions", nil).Want(401, "invalid_token")
	f.do(t, "GET", base+"/me/sessions", nil, testenv.Bearer(other.AccessToken)...).Want(401, "invalid_token")
	f.do(t, "POST", base+"/refresh", map[string]string{"refresh_token": f.adminPair.RefreshToken}).Want(401)
}

// TestAudit: a revocation by an admin is written to the audit log with
// actor, target, IP, user agent and request id (docs/security.md 26).
func TestAudit(t *testing.T) {
	t.Parallel()
	f := setup(t)
	alice := f.user(t, "alice")
	f.Login(t, "alice", password)
	f.Login(t, "alice", password)
	const ua = "AdminConsole/2.1"
	c := f.HTTP(t)
	c.RemoteAddr = "198.51.100.23:5555"
	r := f.as(t, "DELETE", sessionsPath(alice.ID), nil, "User-Agent", ua).Want(200)
	ev := f.Events(t, auth.EventSessionsRevoked)
	if len(ev) != 1 {
		t.Fatalf("%d sessions.revoked events, want 1", len(ev))
	}
	e := ev[0]
	if e.ActorID == nil || *e.ActorID != f.admin.ID {
		t.Errorf("actor_id = %v, want the admin %d", e.ActorID, f.admin.ID)
	}
	if e.TargetID == nil || *e.TargetID != alice.ID {
		t.Errorf("target_id = %v, want alice %d", e.TargetID, alice.ID)
	}
	if e.IP != "198.51.100.23" || e.UserAgent != ua {
		t.Errorf("ip_address %q user_agent %q, want 198.51.100.23 and %q", e.IP, e.UserAgent, ua)
	}
	if e.RequestID == "" || e.RequestID != r.Header().Get("X-Request-Id") {
		t.Errorf("request_id = %q, want the response's %q", e.RequestID, r.Header().Get("X-Request-Id"))
	}
	if e.Username != "alice" || e.Details["revoked"] != float64(2) {
		t.Errorf("username %q details %v, want alice and revoked 2", e.Username, e.Details)
	}
	// Reading is not audited; a refused revocation is not recorded.
	f.as(t, "GET", sessionsPath(alice.ID), nil).Want(200)
	f.as(t, "DELETE", sessionsPath(999999), nil).Want(404)
	if n := len(f.Events(t, auth.EventSessionsRevoked)); n != 1 {
		t.Errorf("%d sessions.revoked events, want 1", n)
	}
}
