//go:build !race

// The race detector slows bcrypt fifteenfold and unevenly, so timing is
// measured only in a build without it: `make test` runs this file in a
// second, race-free pass.

package login_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"authfn/pkg/app"
	"authfn/pkg/auth"
)

// timingConfig runs at bcrypt cost 10, the lowest the service accepts,
// where a skipped hash would show as a difference of about 60 ms, and
// never locks: the tests measure the hashing, not the lockout.
func timingConfig(c *app.Config) {
	c.BcryptCost = auth.MinBcryptCost
	c.LoginMaxFailures, c.LoginMaxFailuresPerIP, c.LoginMaxFailuresPerUsername = 1<<30, 1<<30, 1<<30
}

// attempt is one kind of login a timing test measures: its body and the
// problem code it must get.
type attempt struct {
	body map[string]string
	code string
}

// medianTimesAgree sends every kind of attempt tries times, interleaved
// in a new random order each round, and fails t unless the median times
// of every two kinds differ by less than 10 ms.
func medianTimesAgree(t *testing.T, f *fixture, kinds map[string]attempt) {
	t.Helper()
	var names []string
	for n := range kinds {
		names = append(names, n)
	}
	slices.Sort(names)
	times := map[string][]time.Duration{}
	for _, n := range names { // warm up connections and scripts
		f.http.Do("POST", "/api/auth/v2/login", kinds[n].body).Want(401, kinds[n].code)
	}
	const tries = 200
	for range tries {
		order := slices.Clone(names)
		rand.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		for _, n := range order {
			start := time.Now()
			f.http.Do("POST", "/api/auth/v2/login", kinds[n].body).Want(401, kinds[n].code)
			times[n] = append(times[n], time.Since(start))
		}
	}
	median := func(d []time.Duration) time.Duration {
		s := slices.Clone(d)
		slices.Sort(s)
		return s[len(s)/2]
	}
	for i, a := range names {
		for _, b := range names[i+1:] {
			ma, mb := median(times[a]), median(times[b])
			diff := ma - mb
			if diff < 0 {
				diff = -diff
			}
			t.Logf("median %s %v, %s %v", a, ma, b, mb)
			if diff >= 10*time.Millisecond {
				t.Errorf("median times of %q (%v) and %q (%v) differ by %v, want under 10ms", a, ma, b, mb, diff)
			}
		}
	}
}

// TestLoginTimingDoesNotTellUsersApart holds docs/security.md 7: an unknown
// user, a wrong password and a deactivated account cost the same work;
// their median times differ by less than 10 ms over 200 interleaved tries.
func TestLoginTimingDoesNotTellUsersApart(t *testing.T) {
	if testing.Short() {
		t.Skip("timing needs a few hundred real bcrypt hashes")
	}
	f := setup(t, timingConfig)
	f.CreateUser(t, "alice", password, false)
	bob := f.CreateUser(t, "bob", password, false)
	f.CreateUser(t, "admin", password, true)
	off := false
	if _, err := f.Auth.Admin.UpdateUser(t.Context(), f.Actor(t), bob.ID, auth.UserChange{IsActive: &off}); err != nil {
		t.Fatal(err)
	}
	medianTimesAgree(t, f, map[string]attempt{
		"unknown user":   {map[string]string{"username": "nobody", "password": password}, "invalid_credentials"},
		"wrong password": {map[string]string{"username": "alice", "password": "not the password"}, "invalid_credentials"},
		"deactivated":    {map[string]string{"username": "bob", "password": password}, "invalid_credentials"},
	})
}

// TestLoginTimingHidesMFA holds docs/security.md 34: the answer to a right
// password that needs a second factor (mfa_required) costs what a wrong
// password costs, for a user with MFA and for one without, so neither the
// time of a wrong password tells who has MFA, nor the mfa_required branch
// does slow work before it answers.
func TestLoginTimingHidesMFA(t *testing.T) {
	if testing.Short() {
		t.Skip("timing needs a few hundred real bcrypt hashes")
	}
	f := setup(t, timingConfig)
	f.CreateUser(t, "alice", password, false)
	mfaUser(t, f, "carol")
	medianTimesAgree(t, f, map[string]attempt{
		"wrong password, no MFA":       {map[string]string{"username": "alice", "password": "not the password"}, "invalid_credentials"},
		"wrong password, MFA on":       {map[string]string{"username": "carol", "password": "not the password"}, "invalid_credentials"},
		"right password, mfa_required": {map[string]string{"username": "carol", "password": password}, "mfa_required"},
	})
}
