package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"authfn/pkg/auth"
)

// Throttle runs the contract of auth.Throttle as parallel subtests. open
// must return an empty throttle of its own for each call and release it in
// t.Cleanup. Times are passed in, never read from a clock.
func Throttle(t *testing.T, open func(t *testing.T) auth.Throttle) {
	tests := []struct {
		name string
		test func(t *testing.T, th auth.Throttle)
	}{
		{"Locks", testThrottleLocks},
		{"Window", testThrottleWindow},
		{"LockEnds", testThrottleLockEnds},
		{"Refund", testThrottleRefund},
		{"Reset", testThrottleReset},
		{"Keys", testThrottleKeys},
		{"KeysLocked", testThrottleKeysLocked},
		{"ReleaseKeys", testThrottleReleaseKeys},
		{"KeysConcurrent", testThrottleKeysConcurrent},
		{"Concurrent", testThrottleConcurrent},
		{"HostileKeys", testThrottleHostileKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, open(t))
		})
	}
}

// throttlePolicy locks at the third attempt: 1m, 2m, 4m, then 5m.
func throttlePolicy() auth.ThrottlePolicy {
	return auth.ThrottlePolicy{Max: 3, Window: 15 * time.Minute, BaseLock: time.Minute, MaxLock: 5 * time.Minute}
}

func attempt(t *testing.T, th auth.Throttle, key string, now time.Time) (wait, started time.Duration) {
	t.Helper()
	return attemptWith(t, th, key, throttlePolicy(), now)
}

func attemptWith(t *testing.T, th auth.Throttle, key string, p auth.ThrottlePolicy, now time.Time) (wait, started time.Duration) {
	t.Helper()
	wait, locks, err := th.Attempt(t.Context(), now, auth.ThrottleCount{Key: key, Policy: p})
	if err != nil {
		t.Fatalf("Attempt(%.20q) = %v, want nil", key, err)
	}
	if wait > 0 {
		if locks != nil {
			t.Fatalf("Attempt(%.20q) was refused but says it started %v", key, locks)
		}
		return wait, 0
	}
	if len(locks) != 1 {
		t.Fatalf("Attempt(%.20q) started %v, want one lock per key", key, locks)
	}
	return wait, locks[0]
}

// refund gives back one attempt of key made at now, which started the lock started.
func refund(t *testing.T, th auth.Throttle, key string, now time.Time, started time.Duration) {
	t.Helper()
	if err := th.Release(t.Context(), now, auth.ThrottleRelease{Key: key, Started: started}); err != nil {
		t.Fatalf("Release(%.20q) = %v, want nil", key, err)
	}
}

// testThrottleLocks: the Max-th attempt goes ahead and starts a lock; an
// attempt during the lock is refused and not counted; each attempt after a
// lock ends starts a longer one, up to MaxLock.
func testThrottleLocks(t *testing.T, th auth.Throttle) {
	now := sessionTime()
	for i, want := range []time.Duration{0, 0, time.Minute} {
		if wait, started := attempt(t, th, "user:alice", now); wait != 0 || started != want {
			t.Fatalf("attempt %d = wait %v, started %v; want 0, %v", i+1, wait, started, want)
		}
	}
	for _, step := range []struct {
		after time.Duration
		wait  time.Duration
	}{{0, time.Minute}, {20 * time.Second, 40 * time.Second}} {
		now = now.Add(step.after)
		if wait, started := attempt(t, th, "user:alice", now); wait != step.wait || started != 0 {
			t.Errorf("attempt during the lock = wait %v, started %v; want %v, 0", wait, started, step.wait)
		}
	}
	// Refused attempts were not counted: after the lock, the fourth starts 2m.
	now = now.Add(40 * time.Second)
	for _, want := range []time.Duration{2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute} {
		wait, started := attempt(t, th, "user:alice", now)
		if wait != 0 || started != want {
			t.Errorf("attempt after a lock = wait %v, started %v; want 0, %v", wait, started, want)
		}
		now = now.Add(started)
	}
	if wait, _ := attempt(t, th, "user:bob", sessionTime()); wait != 0 {
		t.Errorf("another key is locked: wait %v", wait)
	}
}

// testThrottleWindow: a count is forgotten after Window without attempts.
func testThrottleWindow(t *testing.T, th auth.Throttle) {
	now := sessionTime()
	attempt(t, th, "ip:203.0.113.7", now)
	now = now.Add(throttlePolicy().Window) // at the end of the window: still counted
	attempt(t, th, "ip:203.0.113.7", now)
	now = now.Add(throttlePolicy().Window + time.Microsecond) // past it: forgotten
	if _, started := attempt(t, th, "ip:203.0.113.7", now); started != 0 {
		t.Errorf("third attempt after the window started a %v lock; the count should have restarted", started)
	}
	attempt(t, th, "ip:203.0.113.7", now)
	if _, started := attempt(t, th, "ip:203.0.113.7", now); started != time.Minute {
		t.Errorf("third attempt within the window started %v, want 1m", started)
	}
}

func testThrottleLockEnds(t *testing.T, th auth.Throttle) {
	at := sessionTime()
	for range 3 {
		attempt(t, th, "user:carol", at)
	}
	for _, tc := range []struct {
		name string
		now  time.Time
		want time.Duration
	}{
		{"half way", at.Add(30 * time.Second), 30 * time.Second},
		{"one microsecond before the end", at.Add(time.Minute - time.Microsecond), time.Microsecond},
		{"at the end", at.Add(time.Minute), 0},
	} {
		if wait, _ := attempt(t, th, "user:carol", tc.now); wait != tc.want {
			t.Errorf("%s: wait = %v, want %v", tc.name, wait, tc.want)
		}
	}
}

// testThrottleRefund: a refunded attempt does not count, and the lock it
// started is lifted; a lock it did not start stays.
func testThrottleRefund(t *testing.T, th auth.Throttle) {
	now := sessionTime()
	attempt(t, th, "k", now)
	attempt(t, th, "k", now)
	refund(t, th, "k", now, 0)
	if _, started := attempt(t, th, "k", now); started != 0 {
		t.Errorf("after a refund the third attempt started %v; it is only the second", started)
	}
	_, started := attempt(t, th, "k", now) // the third: starts 1m
	if started != time.Minute {
		t.Fatalf("started = %v, want 1m", started)
	}
	refund(t, th, "k", now, started)
	if wait, _ := attempt(t, th, "k", now); wait != 0 {
		t.Errorf("the refunded attempt's lock still holds: wait %v", wait)
	}
	// A refund that did not start the lock in force leaves it alone.
	refund(t, th, "k", now, 0)
	refund(t, th, "unknown", now, time.Minute)
	attempt(t, th, "k2", now)
	attempt(t, th, "k2", now)
	_, started = attempt(t, th, "k2", now)
	refund(t, th, "k2", now.Add(time.Second), started) // another attempt's lock
	if wait, _ := attempt(t, th, "k2", now.Add(time.Second)); wait == 0 {
		t.Error("a refund lifted a lock it did not start")
	}
}

func testThrottleReset(t *testing.T, th auth.Throttle) {
	now := sessionTime()
	for range 4 {
		attempt(t, th, "user:dave", now)
	}
	attempt(t, th, "user:erin", now)
	attempt(t, th, "user:erin", now)
	if err := th.Release(t.Context(), now, auth.ThrottleRelease{Key: "user:dave", Forget: true}); err != nil {
		t.Fatalf("Release(Forget) = %v, want nil", err)
	}
	if err := th.Release(t.Context(), now, auth.ThrottleRelease{Key: "user:unknown", Forget: true}); err != nil {
		t.Errorf("Release(Forget, unknown key) = %v, want nil", err)
	}
	if wait, started := attempt(t, th, "user:dave", now); wait != 0 || started != 0 {
		t.Errorf("after Reset: wait %v, started %v; want a fresh count", wait, started)
	}
	if _, started := attempt(t, th, "user:erin", now); started != time.Minute {
		t.Errorf("another key's third attempt started %v, want 1m (untouched by Reset)", started)
	}
}

// testThrottleConcurrent: of many attempts at once exactly Max go ahead;
// the check and the count are one step (docs/security.md 8 under concurrency).
func testThrottleConcurrent(t *testing.T, th auth.Throttle) {
	const n = 20
	now := sessionTime()
	var mu sync.Mutex
	allowed, started := 0, 0
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			wait, locks, err := th.Attempt(context.Background(), now, auth.ThrottleCount{Key: "user:frank", Policy: throttlePolicy()})
			if err != nil {
				t.Errorf("Attempt = %v, want nil", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if wait == 0 {
				allowed++
			}
			if len(locks) == 1 && locks[0] > 0 {
				started++
			}
		})
	}
	wg.Wait()
	if allowed != throttlePolicy().Max || started != 1 {
		t.Errorf("%d of %d concurrent attempts went ahead and %d started a lock; want %d and 1", allowed, n, started, throttlePolicy().Max)
	}
}

func testThrottleHostileKeys(t *testing.T, th auth.Throttle) {
	now := sessionTime()
	keys := []string{
		"user:{t:x}", "user:{t:x}}", "user:}{", "user:a\r\nb", strings.Repeat("{k}\n", 1024), "", "user:\x00\xff",
	}
	for _, k := range keys {
		attempt(t, th, k, now)
		attempt(t, th, k, now)
	}
	for i, k := range keys {
		if _, started := attempt(t, th, k, now); started != time.Minute {
			t.Errorf("key %d: third attempt started %v, want 1m: keys must count apart", i, started)
		}
	}
	if wait, _ := attempt(t, th, keys[0]+"!", now); wait != 0 {
		t.Errorf("a key like another is locked: wait %v", wait)
	}
}

// sixPolicy locks at the sixth attempt, for 10m.
func sixPolicy() auth.ThrottlePolicy {
	return auth.ThrottlePolicy{Max: 6, Window: 15 * time.Minute, BaseLock: 10 * time.Minute, MaxLock: 10 * time.Minute}
}

// attemptKeys counts one attempt under "ip" (throttlePolicy) and "user"
// (sixPolicy), the shape of a sign-in's counters.
func attemptKeys(t *testing.T, th auth.Throttle, ip, user string, now time.Time) (time.Duration, []time.Duration) {
	t.Helper()
	wait, started, err := th.Attempt(t.Context(), now,
		auth.ThrottleCount{Key: ip, Policy: throttlePolicy()}, auth.ThrottleCount{Key: user, Policy: sixPolicy()})
	if err != nil {
		t.Fatalf("Attempt(%q, %q) = %v, want nil", ip, user, err)
	}
	if wait == 0 && len(started) != 2 {
		t.Fatalf("Attempt(%q, %q) started %v, want one lock per key", ip, user, started)
	}
	return wait, started
}

// testThrottleKeys: one attempt under several keys counts under each by
// its own policy and reports the lock started under each.
func testThrottleKeys(t *testing.T, th auth.Throttle) {
	now := sessionTime()
	for i := range 2 {
		if wait, started := attemptKeys(t, th, "ip:a", "user:a", now); wait != 0 || started[0] != 0 || started[1] != 0 {
			t.Fatalf("attempt %d = wait %v, started %v; want 0, [0 0]", i+1, wait, started)
		}
	}
	if wait, started := attemptKeys(t, th, "ip:b", "user:a", now); wait != 0 || started[0] != 0 || started[1] != 0 {
		t.Fatalf("third attempt from another address = wait %v, started %v; want 0, [0 0]", wait, started)
	}
	if wait, started := attemptKeys(t, th, "ip:a", "user:b", now); wait != 0 || started[0] != time.Minute || started[1] != 0 {
		t.Fatalf("the address's third attempt = wait %v, started %v; want 0, [1m 0]", wait, started)
	}
	if _, started := attemptWith(t, th, "user:a", sixPolicy(), now); started != 0 {
		t.Errorf("user:a's fourth attempt started %v; its policy locks at the sixth", started)
	}
}

// testThrottleKeysLocked: when one key is locked, the attempt is refused
// with that key's wait (the first locked, in order) and counted under none
// of the keys: a refused attempt costs the other counters nothing.
func testThrottleKeysLocked(t *testing.T, th auth.Throttle) {
	now := sessionTime()
	for range 3 {
		attempt(t, th, "ip:locked", now) // locked for 1m
	}
	for range 5 {
		if wait, _ := attemptKeys(t, th, "ip:locked", "user:c", now.Add(30*time.Second)); wait != 30*time.Second {
			t.Fatalf("attempt with a locked first key: wait %v, want 30s", wait)
		}
	}
	// user:c counted nothing: its policy still needs six attempts.
	for i := range 5 {
		if _, started := attemptWith(t, th, "user:c", sixPolicy(), now); started != 0 {
			t.Fatalf("user:c's attempt %d started %v: refused attempts were counted", i+1, started)
		}
	}
	// A locked second key refuses too, and the first counts nothing.
	attemptWith(t, th, "user:c", sixPolicy(), now) // the sixth: 10m
	attempt(t, th, "ip:free", now)
	for range 3 {
		if wait, _ := attemptKeys(t, th, "ip:free", "user:c", now.Add(time.Minute)); wait != 9*time.Minute {
			t.Fatalf("attempt with a locked second key: wait %v, want 9m", wait)
		}
	}
	if _, started := attempt(t, th, "ip:free", now); started != 0 {
		t.Errorf("ip:free's second attempt started %v: refused attempts were counted", started)
	}
	// Both locked: the first one's wait.
	attempt(t, th, "ip:free", now) // the third: 1m
	if wait, _ := attemptKeys(t, th, "ip:free", "user:c", now.Add(10*time.Second)); wait != 50*time.Second {
		t.Errorf("both keys locked: wait %v, want the first key's 50s", wait)
	}
}

// testThrottleReleaseKeys: one Release takes back an attempt under some
// keys, lifting the locks it started, and forgets others.
func testThrottleReleaseKeys(t *testing.T, th auth.Throttle) {
	now := sessionTime()
	for range 2 {
		attemptKeys(t, th, "ip:d", "user:d", now)
	}
	attempt(t, th, "pair:d", now)
	attempt(t, th, "pair:d", now)
	_, started := attemptKeys(t, th, "ip:d", "user:d", now) // ip:d's third: 1m
	if started[0] != time.Minute {
		t.Fatalf("started %v, want [1m 0]", started)
	}
	if err := th.Release(t.Context(), now,
		auth.ThrottleRelease{Key: "ip:d", Started: started[0]},
		auth.ThrottleRelease{Key: "user:d", Started: started[1]},
		auth.ThrottleRelease{Key: "pair:d", Forget: true}); err != nil {
		t.Fatalf("Release = %v, want nil", err)
	}
	if wait, started := attemptKeys(t, th, "ip:d", "user:d", now); wait != 0 || started[0] != time.Minute {
		t.Errorf("after the release: wait %v, started %v; want the lock lifted and the third attempt again", wait, started)
	}
	if _, started := attempt(t, th, "pair:d", now); started != 0 {
		t.Error("pair:d was not forgotten")
	}
	attempt(t, th, "pair:d", now)
	if _, started := attempt(t, th, "pair:d", now); started != time.Minute {
		t.Errorf("pair:d's third attempt after it was forgotten started %v, want 1m", started)
	}
	if err := th.Release(t.Context(), now); err != nil {
		t.Errorf("Release of nothing = %v, want nil", err)
	}
}

// testThrottleKeysConcurrent: of many attempts at once under two keys,
// exactly Max of the stricter go ahead, and the other key counts exactly
// those (docs/security.md 8 under concurrency, one step for all keys).
func testThrottleKeysConcurrent(t *testing.T, th auth.Throttle) {
	const n = 20
	now := sessionTime()
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			wait, _, err := th.Attempt(context.Background(), now,
				auth.ThrottleCount{Key: "ip:g", Policy: throttlePolicy()}, auth.ThrottleCount{Key: "user:g", Policy: sixPolicy()})
			if err != nil {
				t.Errorf("Attempt = %v, want nil", err)
			}
			if wait == 0 {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != throttlePolicy().Max {
		t.Fatalf("%d of %d concurrent attempts went ahead, want %d", allowed, n, throttlePolicy().Max)
	}
	for i := range 2 {
		if _, started := attemptWith(t, th, "user:g", sixPolicy(), now); started != 0 {
			t.Fatalf("user:g's attempt %d after the burst started %v: it should have counted only %d", allowed+i+1, started, allowed)
		}
	}
	if _, started := attemptWith(t, th, "user:g", sixPolicy(), now); started != 10*time.Minute {
		t.Errorf("user:g's sixth attempt started %v, want 10m", started)
	}
}
