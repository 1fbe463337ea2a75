package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
)

// testSessionRevokeByRefresh: a session ends by its refresh token only
// with a hash that it holds (its current one or one it rotated out); the
// right ids with a wrong hash, another session's hash or another user's
// ids end nothing, and a revoked session's hash ends nothing twice.
func testSessionRevokeByRefresh(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	current := sessionAt(5, "s_current", base)
	rotated := sessionAt(5, "s_rotated", base.Add(time.Second))
	bystander := sessionAt(5, "s_bystander", base.Add(2*time.Second))
	for _, sess := range []auth.Session{current, rotated, bystander} {
		storeSession(t, s, sess)
	}
	at := base.Add(time.Hour)
	if _, err := s.RotateRefresh(t.Context(), sessionRotation(rotated, "rh-s_rotated", "rh-new", at)); err != nil {
		t.Fatalf("RotateRefresh = %v, want nil", err)
	}

	for _, tc := range []struct {
		name string
		uid  int64
		sid  string
		hash string
	}{
		{"wrong hash", 5, "s_current", "rh-forged"},
		{"another session's hash", 5, "s_current", "rh-s_bystander"},
		{"another user's ids", 6, "s_current", "rh-s_current"},
		{"unknown session", 5, "s_none", "rh-s_current"},
		{"id naming another key", 5, "s_current:x", "rh-s_current"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := s.RevokeByRefresh(t.Context(), tc.uid, tc.sid, tc.hash)
			if err != nil || ok {
				t.Errorf("RevokeByRefresh = %v, %v, want false, nil", ok, err)
			}
		})
	}
	_, err := s.RevokeByRefresh(t.Context(), 5, "s_current", "")
	sessionWantCode(t, "RevokeByRefresh with no hash", err, auth.CodeInvalidRequest)
	if list, err := s.UserSessions(t.Context(), 5, at); err != nil || len(list) != 3 {
		t.Fatalf("UserSessions after failed revocations = %v, %v, want all 3", sessionIDs(list), err)
	}

	// The current hash ends its session, once.
	for i, want := range []bool{true, false} {
		ok, err := s.RevokeByRefresh(t.Context(), 5, "s_current", "rh-s_current")
		if err != nil || ok != want {
			t.Errorf("RevokeByRefresh(current) #%d = %v, %v, want %v, nil", i+1, ok, err, want)
		}
	}
	// A hash the session rotated out ends it too (presenting it to
	// RotateRefresh would), and then its newest token is dead as well.
	if ok, err := s.RevokeByRefresh(t.Context(), 5, "s_rotated", "rh-s_rotated"); err != nil || !ok {
		t.Errorf("RevokeByRefresh(rotated-out hash) = %v, %v, want true, nil", ok, err)
	}
	_, err = s.RotateRefresh(t.Context(), sessionRotation(rotated, "rh-new", "rh-newer", at.Add(time.Minute)))
	sessionWantErr(t, "RotateRefresh of a revoked session", err, auth.ErrNotFound)
	for _, sid := range []string{"s_current", "s_rotated"} {
		_, err := s.TouchSession(t.Context(), 5, sid, at)
		sessionWantErr(t, "TouchSession of "+sid, err, auth.ErrNotFound)
	}

	// The bystander lives on, and every listing agrees.
	list, err := s.UserSessions(t.Context(), 5, at)
	if err != nil {
		t.Fatalf("UserSessions = %v, want nil", err)
	}
	if got, want := sessionIDs(list), []string{"s_bystander"}; !cmp.Equal(got, want) {
		t.Errorf("UserSessions = %v, want %v", got, want)
	}
	page, err := s.ListSessions(t.Context(), auth.SessionQuery{Limit: 10, Now: at})
	if err != nil {
		t.Fatalf("ListSessions = %v, want nil", err)
	}
	if got, want := sessionIDs(page.Sessions), []string{"s_bystander"}; !cmp.Equal(got, want) {
		t.Errorf("ListSessions = %v, want %v", got, want)
	}
	stats, err := s.SessionStats(t.Context(), at)
	if err != nil {
		t.Fatalf("SessionStats = %v, want nil", err)
	}
	if want := (auth.SessionStats{ActiveSessions: 1, ActiveUsers: 1}); stats != want {
		t.Errorf("SessionStats = %+v, want %+v", stats, want)
	}
}
