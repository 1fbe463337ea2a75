package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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
		{"FailLocks", testThrottleFailLocks},
		{"Window", testThrottleWindow},
		{"LockEnds", testThrottleLockEnds},
		{"LockedLongest", testThrottleLockedLongest},
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

// throttlePolicy locks from the third failure: 1m, 2m, 4m, then 5m.
func throttlePolicy() auth.ThrottlePolicy {
	return auth.ThrottlePolicy{Max: 3, Window: 15 * time.Minute, BaseLock: time.Minute, MaxLock: 5 * time.Minute}
}

func throttleFail(t *testing.T, th auth.Throttle, key string, now time.Time) (int, time.Duration) {
	t.Helper()
	n, lock, err := th.Fail(t.Context(), key, throttlePolicy(), now)
	if err != nil {
		t.Fatalf("Fail(%.20q) = %v, want nil", key, err)
	}
	return n, lock
}

func throttleLocked(t *testing.T, th auth.Throttle, now time.Time, keys ...string) time.Duration {
	t.Helper()
	d, err := th.Locked(t.Context(), now, keys...)
	if err != nil {
		t.Fatalf("Locked = %v, want nil", err)
	}
	return d
}

func testThrottleFailLocks(t *testing.T, th auth.Throttle) {
	base := sessionTime()
	tests := []struct {
		count int
		lock  time.Duration
	}{
		{1, 0}, {2, 0}, {3, time.Minute}, {4, 2 * time.Minute}, {5, 4 * time.Minute}, {6, 5 * time.Minute}, {7, 5 * time.Minute},
	}
	for i, tc := range tests {
		now := base.Add(time.Duration(i) * time.Second)
		n, lock := throttleFail(t, th, "user:alice", now)
		if n != tc.count || lock != tc.lock {
			t.Errorf("failure %d: Fail = %d, %v, want %d, %v", i+1, n, lock, tc.count, tc.lock)
		}
		if got := throttleLocked(t, th, now, "user:alice"); got != tc.lock {
			t.Errorf("failure %d: Locked = %v, want %v", i+1, got, tc.lock)
		}
	}
	if got := throttleLocked(t, th, base, "user:bob"); got != 0 {
		t.Errorf("Locked(another key) = %v, want 0", got)
	}
	if got := throttleLocked(t, th, base); got != 0 {
		t.Errorf("Locked(no keys) = %v, want 0", got)
	}
}

func testThrottleWindow(t *testing.T, th auth.Throttle) {
	base := sessionTime()
	tests := []struct {
		name  string
		after time.Duration // since the previous failure
		want  int
	}{
		{"first", 0, 1},
		{"within the window", time.Minute, 2},
		{"at the end of the window", throttlePolicy().Window, 3},
		{"after the window", throttlePolicy().Window + time.Microsecond, 1},
		{"counting again", time.Second, 2},
	}
	now := base
	for _, tc := range tests {
		now = now.Add(tc.after)
		if n, _ := throttleFail(t, th, "ip:203.0.113.7", now); n != tc.want {
			t.Errorf("%s: count = %d, want %d", tc.name, n, tc.want)
		}
	}
}

func testThrottleLockEnds(t *testing.T, th auth.Throttle) {
	base := sessionTime()
	for i := range 3 {
		throttleFail(t, th, "user:carol", base.Add(time.Duration(i)*time.Second))
	}
	at := base.Add(2 * time.Second) // the third failure: locked for a minute
	tests := []struct {
		name string
		now  time.Time
		want time.Duration
	}{
		{"at once", at, time.Minute},
		{"half way", at.Add(30 * time.Second), 30 * time.Second},
		{"at the end", at.Add(time.Minute), 0},
		{"after", at.Add(time.Hour), 0},
	}
	for _, tc := range tests {
		if got := throttleLocked(t, th, tc.now, "user:carol"); got != tc.want {
			t.Errorf("%s: Locked = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func testThrottleLockedLongest(t *testing.T, th auth.Throttle) {
	base := sessionTime()
	for i := range 4 { // "a" locked for 2m
		throttleFail(t, th, "a", base.Add(time.Duration(i)*time.Microsecond))
	}
	for i := range 3 { // "b" locked for 1m
		throttleFail(t, th, "b", base.Add(time.Duration(i)*time.Microsecond))
	}
	throttleFail(t, th, "c", base) // counted, not locked
	now := base.Add(3 * time.Microsecond)
	tests := []struct {
		keys []string
		want time.Duration
	}{
		{[]string{"a", "b", "c", "d"}, 2 * time.Minute},
		{[]string{"d", "c", "b"}, time.Minute - time.Microsecond},
		{[]string{"c", "d"}, 0},
	}
	for _, tc := range tests {
		if got := throttleLocked(t, th, now, tc.keys...); got != tc.want {
			t.Errorf("Locked(%v) = %v, want %v", tc.keys, got, tc.want)
		}
	}
}

func testThrottleReset(t *testing.T, th auth.Throttle) {
	base := sessionTime()
	for i := range 4 {
		throttleFail(t, th, "user:dave", base.Add(time.Duration(i)*time.Second))
	}
	throttleFail(t, th, "user:erin", base)
	if err := th.Reset(t.Context(), "user:dave"); err != nil {
		t.Fatalf("Reset = %v, want nil", err)
	}
	if err := th.Reset(t.Context(), "user:unknown"); err != nil {
		t.Errorf("Reset(unknown key) = %v, want nil", err)
	}
	now := base.Add(5 * time.Second)
	if got := throttleLocked(t, th, now, "user:dave"); got != 0 {
		t.Errorf("Locked after Reset = %v, want 0", got)
	}
	if n, _ := throttleFail(t, th, "user:dave", now); n != 1 {
		t.Errorf("count after Reset = %d, want 1", n)
	}
	if n, _ := throttleFail(t, th, "user:erin", now); n != 2 {
		t.Errorf("count of another key = %d, want 2 (untouched by Reset)", n)
	}
}

func testThrottleConcurrent(t *testing.T, th auth.Throttle) {
	const n = 20
	now := sessionTime()
	counts := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, _, err := th.Fail(context.Background(), "user:frank", throttlePolicy(), now)
			if err != nil {
				t.Errorf("Fail = %v, want nil", err)
			}
			counts[i] = c
		})
	}
	wg.Wait()
	slices.Sort(counts)
	want := make([]int, n)
	for i := range want {
		want[i] = i + 1
	}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("counts of concurrent failures mismatch (-want +got):\n%s", diff)
	}
}

func testThrottleHostileKeys(t *testing.T, th auth.Throttle) {
	base := sessionTime()
	keys := []string{
		"user:{t:x}", "user:{t:x}}", "user:}{", "user:a\r\nb", strings.Repeat("{k}\n", 1024), "", "user:\x00\xff",
	}
	for i, k := range keys {
		for j := 0; j <= i; j++ {
			throttleFail(t, th, k, base)
		}
	}
	for i, k := range keys {
		if n, _ := throttleFail(t, th, k, base); n != i+2 {
			t.Errorf("count of key %d = %d, want %d", i, n, i+2)
		}
	}
	if got, want := throttleLocked(t, th, base, keys...), throttleLock(len(keys)+1); got != want {
		t.Errorf("Locked = %v, want %v", got, want)
	}
	if got := throttleLocked(t, th, base, fmt.Sprintf("%s!", keys[0])); got != 0 {
		t.Errorf("Locked(a key like another) = %v, want 0", got)
	}
}

// throttleLock is the lock throttlePolicy sets at the count-th failure.
func throttleLock(count int) time.Duration {
	if count < throttlePolicy().Max {
		return 0
	}
	return min(throttlePolicy().BaseLock<<(count-throttlePolicy().Max), throttlePolicy().MaxLock)
}
