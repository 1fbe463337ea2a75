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

// TestLoginTimingDoesNotTellUsersApart holds docs/security.md 7: an unknown
// user, a wrong password and a deactivated account cost the same work;
// their median times differ by less than 10 ms over 200 interleaved tries.
// It runs at bcrypt cost 10, the lowest the service accepts, where a
// skipped hash would show as a difference of about 60 ms.
func TestLoginTimingDoesNotTellUsersApart(t *testing.T) {
	if testing.Short() {
		t.Skip("timing needs a few hundred real bcrypt hashes")
	}
	f := setup(t, func(c *app.Config) {
		c.BcryptCost = auth.MinBcryptCost
		c.LoginMaxFailures, c.LoginMaxFailuresPerIP, c.LoginMaxFailuresPerUsername = 1<<30, 1<<30, 1<<30 // measure the hashing, not the lockout
	})
	f.CreateUser(t, "alice", password, false)
	bob := f.CreateUser(t, "bob", password, false)
	f.CreateUser(t, "admin", password, true)
	off := false
	if _, err := f.Auth.Admin.UpdateUser(t.Context(), f.Actor(t), bob.ID, auth.UserChange{IsActive: &off}); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]map[string]string{
		"unknown user":   {"username": "nobody", "password": password},
		"wrong password": {"username": "alice", "password": "not the password"},
		"deactivated":    {"username": "bob", "password": password},
	}
	names := []string{"unknown user", "wrong password", "deactivated"}
	times := map[string][]time.Duration{}
	for _, n := range names { // warm up connections and scripts
		f.http.Do("POST", "/api/auth/v2/login", kinds[n]).Want(401)
	}
	const tries = 200
	for i := 0; i < tries; i++ {
		order := slices.Clone(names)
		rand.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		for _, n := range order {
			start := time.Now()
			f.http.Do("POST", "/api/auth/v2/login", kinds[n]).Want(401, "invalid_credentials")
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
