package users_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
	"authfn/pkg/testenv"
)

// stats reads GET /stats with query q.
func (f *fixture) stats(t *testing.T, q string) auth.Stats {
	t.Helper()
	var st auth.Stats
	f.as(t, "GET", base+"/stats"+q, nil).Want(200).JSON(&st)
	return st
}

// relogin signs the admin in again, for after the clock has outrun the
// access token.
func (f *fixture) relogin(t *testing.T) {
	t.Helper()
	f.adminPair = f.Login(t, "root", adminPassword)
	f.adminAuthz = testenv.Bearer(f.adminPair.AccessToken)
}

// loginsInLog counts the log's sign-in events per UTC hour: what GET
// /stats must agree with.
func (f *fixture) loginsInLog(t *testing.T) map[time.Time]auth.LoginHour {
	t.Helper()
	out := map[time.Time]auth.LoginHour{}
	for _, typ := range []string{auth.EventLoginSucceeded, auth.EventLoginFailed, auth.EventLoginMFAFailed, auth.EventLoginLocked} {
		for _, e := range f.Events(t, typ) {
			h := e.Time.Truncate(time.Hour)
			c := out[h]
			c.Hour = h
			switch typ {
			case auth.EventLoginSucceeded:
				c.Succeeded++
			case auth.EventLoginLocked:
				c.Locked++
			default:
				c.Failed++
			}
			out[h] = c
		}
	}
	return out
}

// TestStatsLogins: one entry per hour of the window, oldest first, the
// current hour last, hours without attempts as zeros; the counts are
// those of the log's login.succeeded, login.failed (and
// login.mfa_failed) and login.locked events, made through the real
// login route.
func TestStatsLogins(t *testing.T) {
	t.Parallel()
	f := setup(t) // root's login: one success in the first hour
	h0 := f.Clock.Now().Truncate(time.Hour)
	for range 2 {
		if code, _ := f.loginStatus(t, "root", "wrong password"); code != 401 {
			t.Fatalf("wrong password: %d, want 401", code)
		}
	}
	f.record(t, auth.Event{Time: f.Clock.Now(), Type: auth.EventLoginMFAFailed, Username: "root"})

	f.Clock.Advance(2 * time.Hour) // the hour between stays empty
	f.relogin(t)
	f.mustCreate(t, "bob", "Bob", false)
	for i := 0; ; i++ {
		if code, _ := f.loginStatus(t, "bob", "wrong password"); code == 429 {
			break
		}
		if i > 20 {
			t.Fatal("bob was never locked out")
		}
	}

	st := f.stats(t, "?hours=3")
	inLog := f.loginsInLog(t)
	var want []auth.LoginHour
	for i := range 3 {
		h := h0.Add(time.Duration(i) * time.Hour)
		want = append(want, auth.LoginHour{Hour: h, Succeeded: inLog[h].Succeeded, Failed: inLog[h].Failed, Locked: inLog[h].Locked})
	}
	if diff := cmp.Diff(want, st.Logins); diff != "" {
		t.Errorf("logins (-want +got):\n%s", diff)
	}
	// And the log holds what the requests above did.
	if got := st.Logins[0]; got.Succeeded != 1 || got.Failed != 3 || got.Locked != 0 {
		t.Errorf("first hour = %+v, want 1 succeeded, 3 failed (2 passwords, 1 code), 0 locked", got)
	}
	if got := st.Logins[1]; got != (auth.LoginHour{Hour: h0.Add(time.Hour)}) {
		t.Errorf("empty hour = %+v, want zeros", got)
	}
	if got := st.Logins[2]; got.Succeeded != 1 || got.Failed < 5 || got.Locked < 1 {
		t.Errorf("third hour = %+v, want root's sign-in and bob's failures and lock", got)
	}

	day := f.stats(t, "")
	if len(day.Logins) != auth.DefaultStatsHours {
		t.Fatalf("default window = %d hours, want %d", len(day.Logins), auth.DefaultStatsHours)
	}
	for i, l := range day.Logins {
		if wantHour := h0.Add(time.Duration(i-21) * time.Hour); !l.Hour.Equal(wantHour) || l.Hour.Location() != time.UTC {
			t.Fatalf("entry %d: hour = %v, want %v UTC (the current hour last)", i, l.Hour, wantHour)
		}
	}
	if diff := cmp.Diff(st.Logins, day.Logins[21:]); diff != "" {
		t.Errorf("the last three hours of the day differ from ?hours=3 (-3h +day):\n%s", diff)
	}

	// A day later the first hours have left a 24-hour window and are
	// still in a 48-hour one.
	f.Clock.Advance(24 * time.Hour)
	f.relogin(t)
	later := f.stats(t, "")
	for i, l := range later.Logins[:23] {
		if l.Succeeded+l.Failed+l.Locked != 0 {
			t.Errorf("hour %d of the new day = %+v, want zeros", i, l)
		}
	}
	if got := later.Logins[23]; got.Succeeded != 1 {
		t.Errorf("current hour = %+v, want root's one sign-in", got)
	}
	two := f.stats(t, "?hours=48")
	if diff := cmp.Diff(st.Logins, two.Logins[21:24]); diff != "" {
		t.Errorf("the first hours in a 48-hour window (-before +now):\n%s", diff)
	}
}

// TestStatsUsersAndSessions: the user counts follow creation,
// deactivation, promotion, MFA and deletion; sessions are the live ones.
func TestStatsUsersAndSessions(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if got := f.stats(t, ""); got.Users != (auth.UserCounts{Total: 1, Active: 1, Admins: 1}) || got.Sessions != (auth.SessionStats{ActiveSessions: 1, ActiveUsers: 1}) {
		t.Errorf("only root: users %+v, sessions %+v; want 1/1/1/0 and 1/1", got.Users, got.Sessions)
	}
	alice := f.mustCreate(t, "alice", "Alice", false)
	bob := f.mustCreate(t, "bob", "Bob", false)
	f.mustCreate(t, "carol", "Carol", true)
	f.Login(t, "alice", password)
	f.Login(t, "alice", password)
	f.Login(t, "bob", password)
	f.as(t, "PATCH", userPath(bob.ID), map[string]any{"is_active": false}).Want(200) // ends bob's session
	// The MFA change sets this column; the count must follow it.
	if _, err := f.SQL.Pool().Exec(t.Context(), `UPDATE users SET mfa_enabled = true WHERE id = $1`, alice.ID); err != nil {
		t.Fatal(err)
	}
	got := f.stats(t, "")
	if want := (auth.UserCounts{Total: 4, Active: 3, Admins: 2, MFAEnabled: 1}); got.Users != want {
		t.Errorf("users = %+v, want %+v", got.Users, want)
	}
	if want := (auth.SessionStats{ActiveSessions: 3, ActiveUsers: 2}); got.Sessions != want {
		t.Errorf("sessions = %+v, want %+v (root's one, alice's two)", got.Sessions, want)
	}
	f.as(t, "DELETE", userPath(alice.ID), nil).Want(204)
	if got := f.stats(t, "").Users; got != (auth.UserCounts{Total: 3, Active: 2, Admins: 2}) {
		t.Errorf("after deleting alice: users = %+v, want 3/2/2/0", got)
	}
}

// TestStatsRejects: hours must be an integer from 1 to 720.
func TestStatsRejects(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, q := range []string{"0", "721", "-1", "24h", "1.5", "1e2"} {
		t.Run(q, func(t *testing.T) {
			r := f.as(t, "GET", base+"/stats?hours="+q, nil).Want(422, "validation_failed")
			if got := fieldsOf(t, r); !slices.Equal(got, []string{"hours"}) {
				t.Errorf("fields = %v, want [hours]", got)
			}
		})
	}
	for _, n := range []int{1, 720} {
		if got := len(f.stats(t, fmt.Sprintf("?hours=%d", n)).Logins); got != n {
			t.Errorf("?hours=%d: %d entries, want %d", n, got, n)
		}
	}
}
