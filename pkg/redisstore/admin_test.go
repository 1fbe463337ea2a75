package redisstore_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"authfn/pkg/redisstore"
)

// TestSessionWithoutAdminField: a session written before the admin flag
// existed (no "adm" in its hash) reads as not admin everywhere, so that a
// verifier denies admin rights rather than guess; SetUserAdmin then writes
// the field.
func TestSessionWithoutAdminField(t *testing.T) {
	forEachBackend(t, redisstore.Options{}, func(t *testing.T, s *redisstore.Store, c redis.UniversalClient) {
		base := baseTime()
		sess := session(1, "s_old", base)
		sess.Admin = true
		create(t, s, sess)
		if err := c.HDel(t.Context(), redisstore.SessionKeyOf(s, 1, "s_old"), "adm").Err(); err != nil {
			t.Fatal(err)
		}
		now := base.Add(time.Minute)
		got, err := s.TouchSession(t.Context(), 1, "s_old", now)
		if err != nil || got.Admin {
			t.Errorf("TouchSession = Admin %v, %v, want false, nil", got.Admin, err)
		}
		list, err := s.UserSessions(t.Context(), 1, now)
		if err != nil || len(list) != 1 || list[0].Admin {
			t.Errorf("UserSessions = %+v, %v, want one session, not admin", list, err)
		}
		if n, err := s.SetUserAdmin(t.Context(), 1, false); err != nil || n != 0 {
			t.Errorf("SetUserAdmin(false) = %d, %v, want 0 (it already read as false), nil", n, err)
		}
		if n, err := s.SetUserAdmin(t.Context(), 1, true); err != nil || n != 1 {
			t.Errorf("SetUserAdmin(true) = %d, %v, want 1, nil", n, err)
		}
		if got, err := s.TouchSession(t.Context(), 1, "s_old", now); err != nil || !got.Admin {
			t.Errorf("TouchSession after SetUserAdmin(true) = Admin %v, %v, want true, nil", got.Admin, err)
		}
		// The flag write leaves the hash's TTL alone.
		if ttl := c.PTTL(t.Context(), redisstore.SessionKeyOf(s, 1, "s_old")).Val(); ttl <= 0 {
			t.Errorf("session hash TTL after SetUserAdmin = %v, want positive", ttl)
		}
	})
}
