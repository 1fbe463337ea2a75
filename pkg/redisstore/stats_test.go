package redisstore_test

import (
	"strconv"
	"testing"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/redisstore"
)

// TestLateIndexUpdateDoesNotRevive: two sessions of one user revoked at
// once each update the active-users index after their script, in either
// order. The one that saw the other still live must not put the user back
// after the other removed them: the user would count as active, and keep
// a key, until that session's idle end (found by make soak).
func TestLateIndexUpdateDoesNotRevive(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c, prefix, _ := b.open(t)
			s := redisstore.New(c, redisstore.Options{Prefix: prefix})
			ctx, now := t.Context(), time.Now()
			var idle [2]time.Time
			for i, sid := range []string{"s_late_one", "s_late_two"} {
				idle[i] = now.Add(time.Hour + time.Duration(i)*time.Minute)
				err := s.CreateSession(ctx, auth.Session{
					ID: sid, UserID: 7, Username: "u7", CreatedAt: now, LastSeenAt: now,
					ExpiresAt: idle[i], AbsoluteExpiresAt: now.Add(24 * time.Hour),
				}, "rh-"+sid)
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, sid := range []string{"s_late_one", "s_late_two"} {
				if _, err := s.RevokeSession(ctx, 7, sid); err != nil {
					t.Fatal(err)
				}
			}
			// The first revocation's update, made when the second session
			// was still live, arrives last.
			if err := s.DropIndexEntriesLate(ctx, 7, "s_late_one", strconv.FormatInt(idle[1].UnixMicro(), 10)); err != nil {
				t.Fatal(err)
			}
			st, err := s.SessionStats(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			if st != (auth.SessionStats{}) {
				t.Errorf("SessionStats = %+v after every session was revoked, want none", st)
			}
		})
	}
}
