package storetest

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"authfn/pkg/auth"
)

// LockerHarness is what the auth.Locker suite needs from one
// implementation under test.
type LockerHarness struct {
	Locker auth.Locker
	// Elapse makes d pass on the clock that expires the store's locks: a
	// short sleep for a real server, a fast-forward for an in-process fake.
	Elapse func(d time.Duration)
}

// Locker runs the contract of auth.Locker as parallel subtests. open must
// return a locker of its own for each call and release it in t.Cleanup.
func Locker(t *testing.T, open func(t *testing.T) LockerHarness) {
	tests := []struct {
		name string
		test func(t *testing.T, h LockerHarness)
	}{
		{"LockUnlock", testLockerLockUnlock},
		{"Expires", testLockerExpires},
		{"Names", testLockerNames},
		{"Concurrent", testLockerConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, open(t))
		})
	}
}

func lockerLock(t *testing.T, l auth.Locker, name string, ttl time.Duration, want bool) func(context.Context) error {
	t.Helper()
	unlock, ok, err := l.Lock(t.Context(), name, ttl)
	if err != nil || ok != want {
		t.Fatalf("Lock(%.20q) = %v, %v, want %v, nil", name, ok, err, want)
	}
	if ok && unlock == nil {
		t.Fatalf("Lock(%.20q) returned no unlock function", name)
	}
	return unlock
}

func testLockerLockUnlock(t *testing.T, h LockerHarness) {
	unlock := lockerLock(t, h.Locker, "cleanup", time.Minute, true)
	lockerLock(t, h.Locker, "cleanup", time.Minute, false)
	if err := unlock(t.Context()); err != nil {
		t.Fatalf("unlock = %v, want nil", err)
	}
	if err := unlock(t.Context()); err != nil {
		t.Errorf("second unlock = %v, want nil", err)
	}
	unlock = lockerLock(t, h.Locker, "cleanup", time.Minute, true)
	if err := unlock(t.Context()); err != nil {
		t.Errorf("unlock = %v, want nil", err)
	}
}

func testLockerExpires(t *testing.T, h LockerHarness) {
	const ttl = 2 * time.Millisecond
	first := lockerLock(t, h.Locker, "migrate", ttl, true)
	h.Elapse(3 * ttl)
	second := lockerLock(t, h.Locker, "migrate", time.Minute, true)
	// The first holder's lock ended; its unlock must not release the
	// second holder's.
	if err := first(t.Context()); err != nil {
		t.Fatalf("stale unlock = %v, want nil", err)
	}
	lockerLock(t, h.Locker, "migrate", time.Minute, false)
	if err := second(t.Context()); err != nil {
		t.Fatalf("unlock = %v, want nil", err)
	}
	lockerLock(t, h.Locker, "migrate", time.Minute, true)
}

func testLockerNames(t *testing.T, h LockerHarness) {
	names := []string{"a", "a:", "{lock:a}", "}{", "a\nb", strings.Repeat("{n}\n", 1024), ""}
	for _, n := range names {
		lockerLock(t, h.Locker, n, time.Minute, true)
	}
	for _, n := range names {
		lockerLock(t, h.Locker, n, time.Minute, false)
	}
}

func testLockerConcurrent(t *testing.T, h LockerHarness) {
	const n = 10
	var won atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			_, ok, err := h.Locker.Lock(context.Background(), "race", time.Minute)
			if err != nil {
				t.Errorf("Lock = %v, want nil", err)
			}
			if ok {
				won.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := won.Load(); got != 1 {
		t.Errorf("holders = %d, want 1", got)
	}
}
