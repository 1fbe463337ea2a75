package users_test

import (
	"slices"
	"testing"

	"authfn/pkg/auth"
)

// TestAudit: every change an admin makes to a user is written to the
// audit log with actor, target, IP, user agent and the request id the
// response carried (docs/security.md 26).
func TestAudit(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const ua = "AdminConsole/2.1 (audit test)"
	f.http(t).RemoteAddr = "198.51.100.23:5555"

	type step struct {
		event string
		reqID string // the response's X-Request-Id
	}
	var steps []step
	r := f.as(t, "POST", base+"/users", map[string]any{"username": "alice", "password": password}, "User-Agent", ua).Want(201)
	alice := user(r)
	steps = append(steps, step{auth.EventUserCreated, r.Header().Get("X-Request-Id")})
	// A valid inbound request id is kept and recorded.
	r = f.as(t, "PATCH", userPath(alice.ID), map[string]any{"is_active": false, "full_name": "Alice L"},
		"User-Agent", ua, "X-Request-Id", "console-req-42").Want(200)
	if got := r.Header().Get("X-Request-Id"); got != "console-req-42" {
		t.Fatalf("X-Request-Id = %q, want the inbound console-req-42", got)
	}
	steps = append(steps, step{auth.EventUserUpdated, "console-req-42"})
	r = f.as(t, "DELETE", userPath(alice.ID), nil, "User-Agent", ua).Want(204)
	steps = append(steps, step{auth.EventUserDeleted, r.Header().Get("X-Request-Id")})

	for _, s := range steps {
		t.Run(s.event, func(t *testing.T) {
			var mine []auth.Event
			for _, e := range f.Events(t, s.event) {
				if e.TargetID != nil && *e.TargetID == alice.ID {
					mine = append(mine, e)
				}
			}
			if len(mine) != 1 {
				t.Fatalf("%d %s events for alice, want 1: %+v", len(mine), s.event, mine)
			}
			e := mine[0]
			if e.ActorID == nil || *e.ActorID != f.admin.ID {
				t.Errorf("actor_id = %v, want the admin %d", e.ActorID, f.admin.ID)
			}
			if e.IP != "198.51.100.23" {
				t.Errorf("ip_address = %q, want 198.51.100.23", e.IP)
			}
			if e.UserAgent != ua {
				t.Errorf("user_agent = %q, want %q", e.UserAgent, ua)
			}
			if e.RequestID == "" || e.RequestID != s.reqID {
				t.Errorf("request_id = %q, want the response's %q", e.RequestID, s.reqID)
			}
			if e.Username != "alice" {
				t.Errorf("username = %q, want alice", e.Username)
			}
			if !e.Time.Equal(f.Clock.Now()) {
				t.Errorf("time = %v, want the clock's %v", e.Time, f.Clock.Now())
			}
		})
	}
	upd := f.Events(t, auth.EventUserUpdated)
	if len(upd) == 1 {
		if got := anyStrings(upd[0].Details["changed"]); !slices.Equal(got, []string{"full_name", "is_active"}) {
			t.Errorf("user.updated changed = %v, want [full_name is_active]", got)
		}
	}
	// Refused requests are not recorded as changes.
	f.as(t, "DELETE", userPath(f.admin.ID), nil).Want(409)
	f.as(t, "POST", base+"/users", map[string]any{"username": "x", "password": password}).Want(422)
	if n := len(f.Events(t, auth.EventUserDeleted)); n != 1 {
		t.Errorf("%d user.deleted events, want 1", n)
	}
	if n := len(f.Events(t, auth.EventUserCreated)); n != 2 { // root and alice
		t.Errorf("%d user.created events, want 2", n)
	}
}
