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
	wait, started, err := th.Attempt(t.Context(), key, throttlePolicy(), now)
	if err != nil {
		t.Fatalf("Attempt(%.20q) = %v, want nil", key, err)
	}
	return wait, started
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
	ctx := t.Context()
	now := sessionTime()
	attempt(t, th, "k", now)
	attempt(t, th, "k", now)
	if err := th.Refund(ctx, "k", now, 0); err != nil {
		t.Fatal(err)
	}
	if _, started := attempt(t, th, "k", now); started != 0 {
		t.Errorf("after a refund the third attempt started %v; it is only the second", started)
	}
	_, started := attempt(t, th, "k", now) // the third: starts 1m
	if started != time.Minute {
		t.Fatalf("started = %v, want 1m", started)
	}
	if err := th.Refund(ctx, "k", now, started); err != nil {
		t.Fatal(err)
	}
	if wait, _ := attempt(t, th, "k", now); wait != 0 {
		t.Errorf("the refunded attempt's lock still holds: wait %v", wait)
	}
	// A refund that did not start the lock in force leaves it alone.
	if err := th.Refund(ctx, "k", now, 0); err != nil {
		t.Fatal(err)
	}
	if err := th.Refund(ctx, "unknown", now, time.Minute); err != nil {
		t.Errorf("Refund(unknown key) = %v, want nil", err)
	}
	attempt(t, th, "k2", now)
	attempt(t, th, "k2", now)
	_, started = attempt(t, th, "k2", now)
	if err := th.Refund(ctx, "k2", now.Add(time.Second), started); err != nil { // another attempt's lock
		t.Fatal(err)
	}
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
	if err := th.Reset(t.Context(), "user:dave"); err != nil {
		t.Fatalf("Reset = %v, want nil", err)
	}
	if err := th.Reset(t.Context(), "user:unknown"); err != nil {
		t.Errorf("Reset(unknown key) = %v, want nil", err)
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
			wait, lock, err := th.Attempt(context.Background(), "user:frank", throttlePolicy(), now)
			if err != nil {
				t.Errorf("Attempt = %v, want nil", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if wait == 0 {
				allowed++
			}
			if lock > 0 {
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
