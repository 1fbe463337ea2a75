package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
)

// SessionHarness is what the auth.SessionStore suite needs from one
// implementation under test.
type SessionHarness struct {
	Store auth.SessionStore
	// RoundTrips, if not nil, returns how many round trips to the server
	// the store has made so far. The suite then checks that TouchSession,
	// the call on every authenticated request, costs exactly one.
	RoundTrips func() int64
}

// SessionStore runs the contract of auth.SessionStore as parallel
// subtests. open must return an empty store of its own for each call and
// release it in t.Cleanup. Times are passed in, never read from a clock,
// so the suite runs in milliseconds whatever lifetimes it uses.
func SessionStore(t *testing.T, open func(t *testing.T) SessionHarness) {
	tests := []struct {
		name string
		test func(t *testing.T, h SessionHarness)
	}{
		{"CreateTouch", testSessionCreateTouch},
		{"CreateInvalid", testSessionCreateInvalid},
		{"TouchNotFound", testSessionTouchNotFound},
		{"TouchExpired", testSessionTouchExpired},
		{"TouchOneRoundTrip", testSessionTouchOneRoundTrip},
		{"HostileInput", testSessionHostileInput},
		{"Rotate", testSessionRotate},
		{"RotateCappedAtAbsolute", testSessionRotateCappedAtAbsolute},
		{"RotateConflictThenReuse", testSessionRotateConflictThenReuse},
		{"RotateReuseOfOlderToken", testSessionRotateReuseOfOlderToken},
		{"RotateNotFound", testSessionRotateNotFound},
		{"RotateConcurrent", testSessionRotateConcurrent},
		{"UserSessions", testSessionUserSessions},
		{"RevokeSession", testSessionRevokeSession},
		{"RevokeUserSessions", testSessionRevokeUserSessions},
		{"AdminFlag", testSessionAdminFlag},
		{"AMRKeptByRotate", testSessionAMRKeptByRotate},
		{"SetUserAdmin", testSessionSetUserAdmin},
		{"SetUserAdminOneRoundTrip", testSessionSetUserAdminOneRoundTrip},
		{"RevokeByRefresh", testSessionRevokeByRefresh},
		{"ListSessions", testSessionListSessions},
		{"ListSessionsInvalidCursor", testSessionListSessionsInvalidCursor},
		{"ListSessionsWhileCreating", testSessionListSessionsWhileCreating},
		{"SessionStats", testSessionStats},
		{"PruneSessions", testSessionPruneSessions},
		{"Ping", testSessionPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, open(t))
		})
	}
}

const (
	sessionIdle     = 7 * 24 * time.Hour
	sessionAbsolute = 30 * 24 * time.Hour
	sessionGrace    = 10 * time.Second
)

// sessionTime is a time as the core passes it: truncated to microseconds,
// in a zone other than UTC.
func sessionTime() time.Time {
	return time.Date(2026, 6, 29, 16, 41, 43, 335368000, time.FixedZone("CEST", 2*60*60))
}

// newSession is a session as the core creates it at created.
func sessionAt(uid int64, sid string, created time.Time) auth.Session {
	return auth.Session{
		ID:                sid,
		UserID:            uid,
		Username:          fmt.Sprintf("user%d", uid),
		CreatedAt:         created,
		LastSeenAt:        created,
		ExpiresAt:         created.Add(sessionIdle),
		AbsoluteExpiresAt: created.Add(sessionAbsolute),
		IP:                "203.0.113.7",
		UserAgent:         "Mozilla/5.0 (storetest)",
	}
}

func storeSession(t *testing.T, s auth.SessionStore, sess auth.Session) {
	t.Helper()
	if err := s.CreateSession(t.Context(), sess, "rh-"+sess.ID); err != nil {
		t.Fatalf("CreateSession(%s) = %v, want nil", sess.ID, err)
	}
}

func sessionRotation(sess auth.Session, presented, next string, now time.Time) auth.Rotation {
	return auth.Rotation{
		UserID: sess.UserID, SessionID: sess.ID, PresentedHash: presented, NewHash: next,
		Now: now, Grace: sessionGrace, IdleTTL: sessionIdle,
	}
}

func sessionWantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Errorf("%s: err = %v, want %v", what, got, want)
	}
}

func sessionWantCode(t *testing.T, what string, err error, want auth.Code) {
	t.Helper()
	if got := auth.ErrorCode(err); err == nil || got != want {
		t.Errorf("%s: err = %v (code %s), want code %s", what, err, got, want)
	}
}

func sessionIDs(ss []auth.Session) []string {
	ids := make([]string, len(ss))
	for i, s := range ss {
		ids[i] = s.ID
	}
	return ids
}

func testSessionCreateTouch(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	sess := sessionAt(42, "s_create", base)
	storeSession(t, s, sess)

	now := base.Add(time.Minute)
	got, err := s.TouchSession(t.Context(), 42, sess.ID, now)
	if err != nil {
		t.Fatalf("TouchSession = %v, want nil", err)
	}
	want := sess
	want.LastSeenAt = now
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TouchSession mismatch (-want +got):\n%s", diff)
	}
	if loc := got.CreatedAt.Location(); loc != time.UTC {
		t.Errorf("CreatedAt location = %v, want UTC", loc)
	}

	later := now.Add(time.Hour)
	got, err = s.TouchSession(t.Context(), 42, sess.ID, later)
	if err != nil {
		t.Fatalf("second TouchSession = %v, want nil", err)
	}
	if !got.LastSeenAt.Equal(later) {
		t.Errorf("LastSeenAt = %v, want %v", got.LastSeenAt, later)
	}
	if !got.ExpiresAt.Equal(sess.ExpiresAt) {
		t.Errorf("ExpiresAt = %v, want %v (touching does not renew)", got.ExpiresAt, sess.ExpiresAt)
	}
}

func testSessionCreateInvalid(t *testing.T, h SessionHarness) {
	base := sessionTime()
	tests := []struct {
		name   string
		change func(*auth.Session)
		hash   string
	}{
		{"no id", func(s *auth.Session) { s.ID = "" }, "rh"},
		{"no creation time", func(s *auth.Session) { s.CreatedAt = time.Time{} }, "rh"},
		{"ends before it starts", func(s *auth.Session) { s.ExpiresAt = base.Add(-time.Second) }, "rh"},
		{"no refresh hash", func(*auth.Session) {}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sess := sessionAt(1, "s_invalid", base)
			tc.change(&sess)
			err := h.Store.CreateSession(t.Context(), sess, tc.hash)
			sessionWantCode(t, "CreateSession", err, auth.CodeInvalidRequest)
		})
	}
}

func testSessionTouchNotFound(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	storeSession(t, s, sessionAt(1, "s_1", base))
	tests := []struct {
		name string
		uid  int64
		sid  string
	}{
		{"unknown session", 1, "s_2"},
		{"another user's id", 2, "s_1"},
		{"empty id", 1, ""},
		{"id with braces", 1, "{u:1}:ss"},
		{"id naming another key", 1, "s_1:x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.TouchSession(t.Context(), tc.uid, tc.sid, base.Add(time.Second))
			sessionWantErr(t, "TouchSession", err, auth.ErrNotFound)
		})
	}
}

func testSessionTouchExpired(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	idle := sessionAt(1, "s_idle", base)
	idle.ExpiresAt = base.Add(time.Hour)
	absolute := sessionAt(1, "s_absolute", base)
	absolute.ExpiresAt = base.Add(3 * time.Hour) // capped by the absolute expiry
	absolute.AbsoluteExpiresAt = base.Add(2 * time.Hour)
	storeSession(t, s, idle)
	storeSession(t, s, absolute)

	tests := []struct {
		name string
		sid  string
		now  time.Time
		ok   bool
	}{
		{"idle: just before", "s_idle", base.Add(time.Hour - time.Microsecond), true},
		{"idle: at expiry", "s_idle", base.Add(time.Hour), false},
		{"idle: earlier again after", "s_idle", base.Add(time.Minute), false},
		{"absolute: just before", "s_absolute", base.Add(2*time.Hour - time.Microsecond), true},
		{"absolute: at expiry", "s_absolute", base.Add(2 * time.Hour), false},
	}
	for _, tc := range tests { // in order: an expired session is gone for good
		got, err := s.TouchSession(t.Context(), 1, tc.sid, tc.now)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: TouchSession = %v, want nil", tc.name, err)
		case tc.ok && tc.sid == "s_absolute" && !got.ExpiresAt.Equal(absolute.AbsoluteExpiresAt):
			t.Errorf("%s: ExpiresAt = %v, want %v (capped)", tc.name, got.ExpiresAt, absolute.AbsoluteExpiresAt)
		case !tc.ok:
			sessionWantErr(t, tc.name+": TouchSession", err, auth.ErrNotFound)
		}
	}
}

func testSessionTouchOneRoundTrip(t *testing.T, h SessionHarness) {
	if h.RoundTrips == nil {
		t.Skip("the harness counts no round trips")
	}
	s, base := h.Store, sessionTime()
	storeSession(t, s, sessionAt(1, "s_rt", base))
	// The first call may load the script into the server.
	if _, err := s.TouchSession(t.Context(), 1, "s_rt", base.Add(time.Second)); err != nil {
		t.Fatalf("TouchSession = %v, want nil", err)
	}
	for _, sid := range []string{"s_rt", "s_missing"} {
		before := h.RoundTrips()
		_, err := s.TouchSession(t.Context(), 1, sid, base.Add(2*time.Second))
		if sid == "s_rt" && err != nil {
			t.Fatalf("TouchSession = %v, want nil", err)
		}
		if got := h.RoundTrips() - before; got != 1 {
			t.Errorf("TouchSession(%s) round trips = %d, want 1", sid, got)
		}
	}
}

func testSessionHostileInput(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	long := strings.Repeat("{x}\n", 1024) // 4 KiB
	tests := []struct {
		name, username, ua, ip string
	}{
		{"braces", "{u:1}:ss", "}{gs:00}:c{", "{t:x}"},
		{"newlines and CR", "a\r\nb\nc", "ua\r\nSET x y\r\n", "::1"},
		{"4 KiB", long, long, long},
		{"unicode and NUL", "émile\x00😀", "\x00\xff", ""},
		{"empty", "", "", ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sess := sessionAt(int64(100+i), fmt.Sprintf("s_hostile_%d", i), base.Add(time.Duration(i)*time.Second))
			sess.Username, sess.UserAgent, sess.IP = tc.username, tc.ua, tc.ip
			storeSession(t, s, sess)
			now := base.Add(time.Minute)
			want := sess
			want.LastSeenAt = now
			got, err := s.TouchSession(t.Context(), sess.UserID, sess.ID, now)
			if err != nil {
				t.Fatalf("TouchSession = %v, want nil", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("TouchSession mismatch (-want +got):\n%s", diff)
			}
			list, err := s.UserSessions(t.Context(), sess.UserID, now)
			if err != nil {
				t.Fatalf("UserSessions = %v, want nil", err)
			}
			if diff := cmp.Diff([]auth.Session{want}, list); diff != "" {
				t.Errorf("UserSessions mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func testSessionRotate(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	sess := sessionAt(7, "s_rotate", base)
	storeSession(t, s, sess)

	now := base.Add(24 * time.Hour)
	got, err := s.RotateRefresh(t.Context(), sessionRotation(sess, "rh-s_rotate", "rh-2", now))
	if err != nil {
		t.Fatalf("RotateRefresh = %v, want nil", err)
	}
	want := sess
	want.LastSeenAt, want.ExpiresAt = now, now.Add(sessionIdle)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RotateRefresh mismatch (-want +got):\n%s", diff)
	}
	touched, err := s.TouchSession(t.Context(), 7, sess.ID, now.Add(time.Second))
	if err != nil {
		t.Fatalf("TouchSession = %v, want nil", err)
	}
	if !touched.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("ExpiresAt after rotation = %v, want %v", touched.ExpiresAt, want.ExpiresAt)
	}
	// The session now outlives its first idle expiry.
	if _, err := s.TouchSession(t.Context(), 7, sess.ID, sess.ExpiresAt.Add(time.Hour)); err != nil {
		t.Errorf("TouchSession after the first idle expiry = %v, want nil", err)
	}
	// The new token rotates in turn.
	if _, err := s.RotateRefresh(t.Context(), sessionRotation(sess, "rh-2", "rh-3", now.Add(time.Hour))); err != nil {
		t.Errorf("second RotateRefresh = %v, want nil", err)
	}
}

func testSessionRotateCappedAtAbsolute(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	sess := sessionAt(7, "s_cap", base)
	// As if refreshed all along: the idle expiry is near the absolute one.
	sess.ExpiresAt = sess.AbsoluteExpiresAt.Add(-30 * time.Minute)
	storeSession(t, s, sess)

	now := sess.AbsoluteExpiresAt.Add(-time.Hour)
	got, err := s.RotateRefresh(t.Context(), sessionRotation(sess, "rh-s_cap", "rh-2", now))
	if err != nil {
		t.Fatalf("RotateRefresh = %v, want nil", err)
	}
	if !got.ExpiresAt.Equal(sess.AbsoluteExpiresAt) {
		t.Errorf("ExpiresAt = %v, want the absolute expiry %v", got.ExpiresAt, sess.AbsoluteExpiresAt)
	}
	end := sess.AbsoluteExpiresAt
	if _, err := s.TouchSession(t.Context(), 7, sess.ID, end); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("TouchSession at the absolute expiry: err = %v, want %v", err, auth.ErrNotFound)
	}
	_, err = s.RotateRefresh(t.Context(), sessionRotation(sess, "rh-2", "rh-3", end))
	sessionWantErr(t, "RotateRefresh at the absolute expiry", err, auth.ErrNotFound)
}

func testSessionRotateConflictThenReuse(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	sess := sessionAt(9, "s_reuse", base)
	other := sessionAt(9, "s_other", base.Add(time.Second))
	storeSession(t, s, sess)
	storeSession(t, s, other)

	at := base.Add(time.Hour)
	if _, err := s.RotateRefresh(t.Context(), sessionRotation(sess, "rh-s_reuse", "rh-B", at)); err != nil {
		t.Fatalf("RotateRefresh = %v, want nil", err)
	}
	// Within the grace period, the old token is a lost race: 409, and the
	// session lives on.
	_, err := s.RotateRefresh(t.Context(), sessionRotation(sess, "rh-s_reuse", "rh-C", at.Add(sessionGrace)))
	sessionWantErr(t, "RotateRefresh at the end of the grace period", err, auth.ErrRefreshConflict)
	if _, err := s.TouchSession(t.Context(), 9, sess.ID, at.Add(sessionGrace)); err != nil {
		t.Fatalf("TouchSession after a conflict = %v, want nil", err)
	}
	// After it, the old token is reuse: the session ends, newest token too.
	late := at.Add(sessionGrace + time.Microsecond)
	_, err = s.RotateRefresh(t.Context(), sessionRotation(sess, "rh-s_reuse", "rh-C", late))
	sessionWantErr(t, "RotateRefresh after the grace period", err, auth.ErrTokenReused)
	_, err = s.TouchSession(t.Context(), 9, sess.ID, late)
	sessionWantErr(t, "TouchSession after reuse", err, auth.ErrNotFound)
	_, err = s.RotateRefresh(t.Context(), sessionRotation(sess, "rh-B", "rh-D", late))
	sessionWantErr(t, "RotateRefresh with the newest token after reuse", err, auth.ErrNotFound)
	_, err = s.RotateRefresh(t.Context(), sessionRotation(sess, "rh-s_reuse", "rh-D", late))
	sessionWantErr(t, "RotateRefresh with the reused token again", err, auth.ErrNotFound)

	// The user's other session is untouched, and listings agree.
	list, err := s.UserSessions(t.Context(), 9, late)
	if err != nil {
		t.Fatalf("UserSessions = %v, want nil", err)
	}
	if got, want := sessionIDs(list), []string{"s_other"}; !cmp.Equal(got, want) {
		t.Errorf("UserSessions = %v, want %v", got, want)
	}
	page, err := s.ListSessions(t.Context(), auth.SessionQuery{Limit: 10, Now: late})
	if err != nil {
		t.Fatalf("ListSessions = %v, want nil", err)
	}
	if got, want := sessionIDs(page.Sessions), []string{"s_other"}; !cmp.Equal(got, want) {
		t.Errorf("ListSessions = %v, want %v", got, want)
	}
	stats, err := s.SessionStats(t.Context(), late)
	if err != nil {
		t.Fatalf("SessionStats = %v, want nil", err)
	}
	if want := (auth.SessionStats{ActiveSessions: 1, ActiveUsers: 1}); stats != want {
		t.Errorf("SessionStats = %+v, want %+v", stats, want)
	}
}

func testSessionRotateReuseOfOlderToken(t *testing.T, h SessionHarness) {
	tests := []struct {
		name   string
		reused string // a token rotated away earlier
	}{
		{"first token", "rh-s_old"},
		{"middle token", "rh-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, base := h.Store, sessionTime()
			sess := sessionAt(int64(len(tc.name)), "s_old", base)
			storeSession(t, s, sess)
			now := base
			for i, next := range []string{"rh-1", "rh-2", "rh-3"} {
				presented := "rh-s_old"
				if i > 0 {
					presented = fmt.Sprintf("rh-%d", i)
				}
				now = now.Add(time.Hour)
				if _, err := s.RotateRefresh(t.Context(), sessionRotation(sess, presented, next, now)); err != nil {
					t.Fatalf("RotateRefresh %d = %v, want nil", i, err)
				}
			}
			// A second after the last rotation: within the grace period of
			// that one, but tc.reused was rotated an hour or more ago.
			now = now.Add(time.Second)
			_, err := s.RotateRefresh(t.Context(), sessionRotation(sess, tc.reused, "rh-x", now))
			sessionWantErr(t, "RotateRefresh", err, auth.ErrTokenReused)
			_, err = s.RotateRefresh(t.Context(), sessionRotation(sess, "rh-3", "rh-y", now))
			sessionWantErr(t, "RotateRefresh with the newest token", err, auth.ErrNotFound)
		})
	}
}

func testSessionRotateNotFound(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	sess := sessionAt(3, "s_nf", base)
	storeSession(t, s, sess)
	now := base.Add(time.Hour)
	tests := []struct {
		name string
		r    auth.Rotation
	}{
		{"unknown token", sessionRotation(sess, "rh-unknown", "rh-2", now)},
		{"unknown session", sessionRotation(sessionAt(3, "s_unknown", base), "rh-s_nf", "rh-2", now)},
		{"another user", sessionRotation(sessionAt(4, "s_nf", base), "rh-s_nf", "rh-2", now)},
		{"expired session", sessionRotation(sess, "rh-s_nf", "rh-2", sess.ExpiresAt)},
	}
	for _, tc := range tests { // in order: the last one ends the session
		_, err := s.RotateRefresh(t.Context(), tc.r)
		sessionWantErr(t, tc.name+": RotateRefresh", err, auth.ErrNotFound)
		if tc.name == "unknown token" {
			if _, err := s.TouchSession(t.Context(), 3, sess.ID, now); err != nil {
				t.Errorf("TouchSession after an unknown token = %v, want nil (the session lives on)", err)
			}
		}
	}
}

func testSessionRotateConcurrent(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	sess := sessionAt(5, "s_race", base)
	storeSession(t, s, sess)

	const n = 10
	now := base.Add(time.Hour)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = s.RotateRefresh(context.Background(), sessionRotation(sess, "rh-s_race", fmt.Sprintf("rh-new-%d", i), now))
		})
	}
	close(start)
	wg.Wait()
	var ok, conflict int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, auth.ErrRefreshConflict):
			conflict++
		default:
			t.Errorf("RotateRefresh = %v, want nil or %v", err, auth.ErrRefreshConflict)
		}
	}
	if ok != 1 || conflict != n-1 {
		t.Errorf("successes, conflicts = %d, %d, want 1, %d", ok, conflict, n-1)
	}
	if _, err := s.TouchSession(t.Context(), 5, sess.ID, now); err != nil {
		t.Errorf("TouchSession after the race = %v, want nil", err)
	}
}

func testSessionUserSessions(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	// Created out of order, so that the store must sort.
	for _, sess := range []auth.Session{
		sessionAt(1, "s_b", base.Add(2*time.Second)),
		sessionAt(1, "s_a", base.Add(1*time.Second)),
		sessionAt(1, "s_c", base.Add(3*time.Second)),
		sessionAt(2, "s_other", base),
	} {
		storeSession(t, s, sess)
	}
	short := sessionAt(1, "s_short", base)
	short.ExpiresAt = base.Add(time.Minute)
	storeSession(t, s, short)

	now := base.Add(time.Hour)
	tests := []struct {
		uid  int64
		want []string
	}{
		{1, []string{"s_a", "s_b", "s_c"}},
		{2, []string{"s_other"}},
		{3, []string{}},
	}
	for _, tc := range tests {
		got, err := s.UserSessions(t.Context(), tc.uid, now)
		if err != nil {
			t.Fatalf("UserSessions(%d) = %v, want nil", tc.uid, err)
		}
		if got == nil {
			t.Errorf("UserSessions(%d) = nil, want an empty slice", tc.uid)
		}
		if diff := cmp.Diff(tc.want, sessionIDs(got)); diff != "" {
			t.Errorf("UserSessions(%d) ids mismatch (-want +got):\n%s", tc.uid, diff)
		}
	}
	got, err := s.UserSessions(t.Context(), 1, now)
	if err != nil {
		t.Fatalf("UserSessions = %v, want nil", err)
	}
	if want := sessionAt(1, "s_a", base.Add(time.Second)); len(got) > 0 {
		if diff := cmp.Diff(want, got[0]); diff != "" {
			t.Errorf("UserSessions[0] mismatch (-want +got):\n%s", diff)
		}
	}
}

func testSessionRevokeSession(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	storeSession(t, s, sessionAt(1, "s_1", base))
	storeSession(t, s, sessionAt(1, "s_2", base.Add(time.Second)))
	now := base.Add(time.Minute)

	for i, want := range []bool{true, false} {
		got, err := s.RevokeSession(t.Context(), 1, "s_1")
		if err != nil || got != want {
			t.Errorf("RevokeSession #%d = %v, %v, want %v, nil", i+1, got, err, want)
		}
	}
	if got, err := s.RevokeSession(t.Context(), 2, "s_2"); err != nil || got {
		t.Errorf("RevokeSession(another user) = %v, %v, want false, nil", got, err)
	}
	_, err := s.TouchSession(t.Context(), 1, "s_1", now)
	sessionWantErr(t, "TouchSession of a revoked session", err, auth.ErrNotFound)
	if _, err := s.TouchSession(t.Context(), 1, "s_2", now); err != nil {
		t.Errorf("TouchSession of the other session = %v, want nil", err)
	}
	page, err := s.ListSessions(t.Context(), auth.SessionQuery{Limit: 10, Now: now})
	if err != nil {
		t.Fatalf("ListSessions = %v, want nil", err)
	}
	if got, want := sessionIDs(page.Sessions), []string{"s_2"}; !cmp.Equal(got, want) {
		t.Errorf("ListSessions = %v, want %v", got, want)
	}
	stats, err := s.SessionStats(t.Context(), now)
	if err != nil {
		t.Fatalf("SessionStats = %v, want nil", err)
	}
	if want := (auth.SessionStats{ActiveSessions: 1, ActiveUsers: 1}); stats != want {
		t.Errorf("SessionStats = %+v, want %+v", stats, want)
	}
}

func testSessionRevokeUserSessions(t *testing.T, h SessionHarness) {
	tests := []struct {
		name      string
		keep      string
		wantCount int
		wantLeft  []string
	}{
		{"all", "", 3, []string{}},
		{"all but one", "s_2", 2, []string{"s_2"}},
		{"keep unknown", "s_9", 3, []string{}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, base := h.Store, sessionTime()
			uid, other := int64(10+2*i), int64(11+2*i)
			for j, sid := range []string{"s_1", "s_2", "s_3"} {
				storeSession(t, s, sessionAt(uid, sid, base.Add(time.Duration(j)*time.Second)))
			}
			storeSession(t, s, sessionAt(other, "s_1", base))
			now := base.Add(time.Minute)
			before, err := s.SessionStats(t.Context(), now)
			if err != nil {
				t.Fatalf("SessionStats = %v, want nil", err)
			}

			n, err := s.RevokeUserSessions(t.Context(), uid, tc.keep)
			if err != nil || n != tc.wantCount {
				t.Errorf("RevokeUserSessions = %d, %v, want %d, nil", n, err, tc.wantCount)
			}
			left, err := s.UserSessions(t.Context(), uid, now)
			if err != nil {
				t.Fatalf("UserSessions = %v, want nil", err)
			}
			if diff := cmp.Diff(tc.wantLeft, sessionIDs(left)); diff != "" {
				t.Errorf("sessions left mismatch (-want +got):\n%s", diff)
			}
			if _, err := s.TouchSession(t.Context(), other, "s_1", now); err != nil {
				t.Errorf("TouchSession of another user's session = %v, want nil", err)
			}
			after, err := s.SessionStats(t.Context(), now)
			if err != nil {
				t.Fatalf("SessionStats = %v, want nil", err)
			}
			want := auth.SessionStats{ActiveSessions: before.ActiveSessions - int64(tc.wantCount), ActiveUsers: before.ActiveUsers}
			if len(tc.wantLeft) == 0 {
				want.ActiveUsers--
			}
			if after != want {
				t.Errorf("SessionStats = %+v, want %+v", after, want)
			}
			n, err = s.RevokeUserSessions(t.Context(), uid, tc.keep)
			if err != nil || n != 0 {
				t.Errorf("RevokeUserSessions again = %d, %v, want 0, nil", n, err)
			}
		})
	}
}

func testSessionListSessions(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	var want []string
	for i := range 11 {
		sid := fmt.Sprintf("s_%02d", i)
		// Users and creation times interleave, so only the store's creation
		// order gives this list.
		storeSession(t, s, sessionAt(int64(1+i%3), sid, base.Add(time.Duration(i)*time.Second)))
		want = append(want, sid)
	}
	expired := sessionAt(1, "s_expired", base.Add(1500*time.Millisecond))
	expired.ExpiresAt = base.Add(time.Minute)
	storeSession(t, s, expired)
	storeSession(t, s, sessionAt(2, "s_revoked", base.Add(2500*time.Millisecond)))
	if ok, err := s.RevokeSession(t.Context(), 2, "s_revoked"); !ok || err != nil {
		t.Fatalf("RevokeSession = %v, %v, want true, nil", ok, err)
	}
	now := base.Add(time.Hour)

	for _, limit := range []int{1, 3, 11, 12, 200} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			var got []string
			cursor := ""
			for page := 0; ; page++ {
				if page > 20 {
					t.Fatalf("more than 20 pages of %d for 11 sessions", limit)
				}
				p, err := s.ListSessions(t.Context(), auth.SessionQuery{Cursor: cursor, Limit: limit, Now: now})
				if err != nil {
					t.Fatalf("ListSessions = %v, want nil", err)
				}
				if len(p.Sessions) > limit {
					t.Errorf("page of %d sessions, want at most %d", len(p.Sessions), limit)
				}
				got = append(got, sessionIDs(p.Sessions)...)
				if p.NextCursor == "" {
					break
				}
				cursor = p.NextCursor
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("listed ids mismatch (-want +got):\n%s", diff)
			}
		})
	}
	p, err := s.ListSessions(t.Context(), auth.SessionQuery{Limit: 1, Now: now})
	if err != nil || len(p.Sessions) != 1 {
		t.Fatalf("ListSessions = %d sessions, %v, want 1, nil", len(p.Sessions), err)
	}
	wantFirst := sessionAt(1, "s_00", base)
	if diff := cmp.Diff(wantFirst, p.Sessions[0]); diff != "" {
		t.Errorf("first session mismatch (-want +got):\n%s", diff)
	}
}

func testSessionListSessionsInvalidCursor(t *testing.T, h SessionHarness) {
	rnd := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 48)
	for i := range random {
		random[i] = byte(rnd.UintN(256))
	}
	tests := []struct {
		name, cursor string
	}{
		{"random bytes", string(random)},
		{"not base64", "!!!!"},
		{"base64 of text", "aGVsbG8gd29ybGQ"},
		{"huge", strings.Repeat("A", 1<<16)},
		{"braces", "{gs:00}:c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.Store.ListSessions(t.Context(), auth.SessionQuery{Cursor: tc.cursor, Limit: 10, Now: sessionTime()})
			sessionWantCode(t, "ListSessions", err, auth.CodeInvalidRequest)
		})
	}
}

// testSessionListSessionsWhileCreating walks pages while sessions are being
// created: each session that existed at the start appears exactly once, and
// nothing appears twice.
func testSessionListSessionsWhileCreating(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	const initial = 300
	existing := map[string]bool{}
	for i := range initial {
		sid := fmt.Sprintf("s_%03d", i)
		storeSession(t, s, sessionAt(int64(1+i%17), sid, base.Add(time.Duration(i-initial)*time.Second)))
		existing[sid] = true
	}
	now := base.Add(time.Minute)

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		// New sessions land among the old ones and after them, on both
		// sides of the walk's cursor.
		for i := 0; ctx.Err() == nil && i < initial; i++ {
			created := base.Add(time.Duration(i-initial)*time.Second + 500*time.Millisecond)
			if i%2 == 1 {
				created = base.Add(time.Duration(i) * time.Millisecond)
			}
			sess := sessionAt(int64(1+i%13), fmt.Sprintf("s_new_%03d", i), created)
			if err := s.CreateSession(ctx, sess, "rh"); err != nil && ctx.Err() == nil {
				t.Errorf("CreateSession = %v, want nil", err)
				return
			}
		}
	})
	seen := map[string]int{}
	cursor := ""
	for page := 0; ; page++ {
		if page > 2*initial {
			t.Fatalf("more than %d pages", 2*initial)
		}
		p, err := s.ListSessions(t.Context(), auth.SessionQuery{Cursor: cursor, Limit: 7, Now: now})
		if err != nil {
			t.Fatalf("ListSessions = %v, want nil", err)
		}
		for _, sess := range p.Sessions {
			seen[sess.ID]++
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	cancel()
	wg.Wait()
	for sid, n := range seen {
		if n != 1 {
			t.Errorf("session %s listed %d times, want once", sid, n)
		}
	}
	for sid := range existing {
		if seen[sid] != 1 {
			t.Errorf("session %s listed %d times, want once", sid, seen[sid])
		}
	}
}

func testSessionStats(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	short := func(uid int64, sid string) auth.Session {
		sess := sessionAt(uid, sid, base)
		sess.ExpiresAt = base.Add(time.Hour)
		return sess
	}
	for _, sess := range []auth.Session{
		sessionAt(1, "s_1", base), sessionAt(1, "s_2", base), sessionAt(2, "s_3", base),
		short(2, "s_4"), short(3, "s_5"),
	} {
		storeSession(t, s, sess)
	}
	tests := []struct {
		name string
		now  time.Time
		want auth.SessionStats
	}{
		{"all live", base.Add(time.Minute), auth.SessionStats{ActiveSessions: 5, ActiveUsers: 3}},
		{"short ones ended", base.Add(time.Hour), auth.SessionStats{ActiveSessions: 3, ActiveUsers: 2}},
		{"all ended", base.Add(sessionIdle), auth.SessionStats{}},
	}
	for _, tc := range tests {
		got, err := s.SessionStats(t.Context(), tc.now)
		if err != nil {
			t.Fatalf("%s: SessionStats = %v, want nil", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: SessionStats = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func testSessionPruneSessions(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	// User 1 has only short sessions, user 2 one of each.
	for i, uid := range []int64{1, 1, 1, 2} {
		sess := sessionAt(uid, fmt.Sprintf("s_short_%d", i), base.Add(time.Duration(i)*time.Second))
		sess.ExpiresAt = base.Add(time.Hour)
		storeSession(t, s, sess)
	}
	storeSession(t, s, sessionAt(2, "s_long", base.Add(time.Minute)))
	now := base.Add(2 * time.Hour)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	got, err := s.PruneSessions(ctx, now)
	if err != nil {
		t.Fatalf("PruneSessions = %v, want nil", err)
	}
	want := auth.PruneResult{ExpiredIndexEntries: 4, ExpiredUserEntries: 1, Complete: true}
	if got != want {
		t.Errorf("PruneSessions = %+v, want %+v", got, want)
	}
	got, err = s.PruneSessions(ctx, now)
	if err != nil {
		t.Fatalf("second PruneSessions = %v, want nil", err)
	}
	if want := (auth.PruneResult{Complete: true}); got != want {
		t.Errorf("second PruneSessions = %+v, want %+v", got, want)
	}
	page, err := s.ListSessions(t.Context(), auth.SessionQuery{Limit: 10, Now: now})
	if err != nil {
		t.Fatalf("ListSessions = %v, want nil", err)
	}
	if got, want := sessionIDs(page.Sessions), []string{"s_long"}; !cmp.Equal(got, want) {
		t.Errorf("ListSessions after pruning = %v, want %v", got, want)
	}
	if _, err := s.TouchSession(t.Context(), 2, "s_long", now); err != nil {
		t.Errorf("TouchSession after pruning = %v, want nil", err)
	}
}

func testSessionPing(t *testing.T, h SessionHarness) {
	if err := h.Store.Ping(t.Context()); err != nil {
		t.Errorf("Ping = %v, want nil", err)
	}
}

// testSessionAdminFlag: the flag a session is created with comes back from
// every call that reads a session.
func testSessionAdminFlag(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	admin := sessionAt(30, "s_admin", base)
	admin.Admin = true
	storeSession(t, s, admin)
	storeSession(t, s, sessionAt(31, "s_plain", base.Add(time.Second)))
	now := base.Add(time.Minute)

	for uid, want := range map[int64]bool{30: true, 31: false} {
		sid := map[int64]string{30: "s_admin", 31: "s_plain"}[uid]
		got, err := s.TouchSession(t.Context(), uid, sid, now)
		if err != nil || got.Admin != want {
			t.Errorf("TouchSession(%s).Admin = %v, %v, want %v, nil", sid, got.Admin, err, want)
		}
		list, err := s.UserSessions(t.Context(), uid, now)
		if err != nil || len(list) != 1 || list[0].Admin != want {
			t.Errorf("UserSessions(%d) = %+v, %v, want one session with Admin %v", uid, list, err, want)
		}
	}
	page, err := s.ListSessions(t.Context(), auth.SessionQuery{Limit: 10, Now: now})
	if err != nil || len(page.Sessions) != 2 || !page.Sessions[0].Admin || page.Sessions[1].Admin {
		t.Errorf("ListSessions = %+v, %v, want s_admin (Admin) then s_plain", page.Sessions, err)
	}
	rotated, err := s.RotateRefresh(t.Context(), sessionRotation(admin, "rh-s_admin", "rh-2", now))
	if err != nil || !rotated.Admin {
		t.Errorf("RotateRefresh.Admin = %v, %v, want true, nil", rotated.Admin, err)
	}
}

// testSessionAMRKeptByRotate: every rotation returns the authentication
// methods the session was created with, so a refreshed token claims what
// the login proved; a session created without any returns none.
func testSessionAMRKeptByRotate(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	mfa := sessionAt(32, "s_mfa", base)
	mfa.AMR = []string{auth.AMRPassword, auth.AMROTP}
	storeSession(t, s, mfa)
	plain := sessionAt(33, "s_pwd", base)
	storeSession(t, s, plain)
	presented := "rh-s_mfa"
	for i := range 3 {
		next := fmt.Sprint("rh-mfa-", i)
		got, err := s.RotateRefresh(t.Context(), sessionRotation(mfa, presented, next, base.Add(time.Duration(i+1)*time.Minute)))
		if err != nil || !cmp.Equal(got.AMR, mfa.AMR) {
			t.Errorf("RotateRefresh #%d AMR = %v, %v, want %v", i+1, got.AMR, err, mfa.AMR)
		}
		presented = next
	}
	got, err := s.RotateRefresh(t.Context(), sessionRotation(plain, "rh-s_pwd", "rh-pwd-1", base.Add(time.Minute)))
	if err != nil || len(got.AMR) != 0 {
		t.Errorf("RotateRefresh(no AMR) AMR = %v, %v, want none", got.AMR, err)
	}
}

// testSessionSetUserAdmin: the flag changes on every live session of one
// user at once, and nowhere else.
func testSessionSetUserAdmin(t *testing.T, h SessionHarness) {
	s, base := h.Store, sessionTime()
	const uid, other = int64(40), int64(41)
	for i, sid := range []string{"s_1", "s_2", "s_gone"} {
		sess := sessionAt(uid, sid, base.Add(time.Duration(i)*time.Second))
		sess.Admin = true
		storeSession(t, s, sess)
	}
	bystander := sessionAt(other, "s_1", base)
	bystander.Admin = true
	storeSession(t, s, bystander)
	if ok, err := s.RevokeSession(t.Context(), uid, "s_gone"); !ok || err != nil {
		t.Fatalf("RevokeSession = %v, %v, want true, nil", ok, err)
	}
	now := base.Add(time.Minute)
	flags := func(uid int64) map[string]bool {
		t.Helper()
		list, err := s.UserSessions(t.Context(), uid, now)
		if err != nil {
			t.Fatalf("UserSessions(%d) = %v, want nil", uid, err)
		}
		out := map[string]bool{}
		for _, sess := range list {
			out[sess.ID] = sess.Admin
		}
		return out
	}

	steps := []struct {
		admin bool
		want  int
	}{
		{false, 2}, // the live sessions; the revoked one is not counted
		{false, 0}, // nothing left to change
		{true, 2},
	}
	for _, st := range steps {
		n, err := s.SetUserAdmin(t.Context(), uid, st.admin)
		if err != nil || n != st.want {
			t.Errorf("SetUserAdmin(%d, %v) = %d, %v, want %d, nil", uid, st.admin, n, err, st.want)
		}
		if diff := cmp.Diff(map[string]bool{"s_1": st.admin, "s_2": st.admin}, flags(uid)); diff != "" {
			t.Errorf("after SetUserAdmin(%v): flags mismatch (-want +got):\n%s", st.admin, diff)
		}
		got, err := s.TouchSession(t.Context(), uid, "s_2", now)
		if err != nil || got.Admin != st.admin {
			t.Errorf("after SetUserAdmin(%v): TouchSession.Admin = %v, %v", st.admin, got.Admin, err)
		}
		if diff := cmp.Diff(map[string]bool{"s_1": true}, flags(other)); diff != "" {
			t.Errorf("another user's sessions changed (-want +got):\n%s", diff)
		}
	}
	// A revoked session stays revoked: the flag does not bring it back.
	_, err := s.TouchSession(t.Context(), uid, "s_gone", now)
	sessionWantErr(t, "TouchSession of the revoked session", err, auth.ErrNotFound)
	if n, err := s.SetUserAdmin(t.Context(), 999, true); err != nil || n != 0 {
		t.Errorf("SetUserAdmin(unknown user) = %d, %v, want 0, nil", n, err)
	}
	if got := flags(999); len(got) != 0 {
		t.Errorf("unknown user has sessions after SetUserAdmin: %v", got)
	}
	// The flag survives a rotation, and the session still expires as before.
	rotated, err := s.RotateRefresh(t.Context(), sessionRotation(sessionAt(uid, "s_1", base), "rh-s_1", "rh-next", now))
	if err != nil || !rotated.Admin {
		t.Errorf("RotateRefresh after SetUserAdmin = %+v, %v, want Admin true", rotated, err)
	}
	_, err = s.TouchSession(t.Context(), uid, "s_2", sessionAt(uid, "s_2", base.Add(time.Second)).ExpiresAt)
	sessionWantErr(t, "TouchSession at the idle expiry after SetUserAdmin", err, auth.ErrNotFound)
}

// testSessionSetUserAdminOneRoundTrip: a change of rights costs one round
// trip however many sessions the user has.
func testSessionSetUserAdminOneRoundTrip(t *testing.T, h SessionHarness) {
	if h.RoundTrips == nil {
		t.Skip("the harness counts no round trips")
	}
	s, base := h.Store, sessionTime()
	for i := range 5 {
		storeSession(t, s, sessionAt(50, fmt.Sprintf("s_%d", i), base.Add(time.Duration(i)*time.Second)))
	}
	// The first call may load the script into the server.
	if _, err := s.SetUserAdmin(t.Context(), 50, true); err != nil {
		t.Fatalf("SetUserAdmin = %v, want nil", err)
	}
	before := h.RoundTrips()
	if n, err := s.SetUserAdmin(t.Context(), 50, false); err != nil || n != 5 {
		t.Fatalf("SetUserAdmin = %d, %v, want 5, nil", n, err)
	}
	if got := h.RoundTrips() - before; got != 1 {
		t.Errorf("SetUserAdmin round trips = %d, want 1", got)
	}
}
