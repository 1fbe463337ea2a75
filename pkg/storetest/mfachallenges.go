package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"authfn/pkg/auth"
)

// MFAChallenges runs the contract of auth.MFAChallenges as parallel
// subtests. open must return an empty store of its own for each call, and
// elapse lets the server's own clock pass (for its TTLs).
func MFAChallenges(t *testing.T, open func(t *testing.T) (auth.MFAChallenges, func(time.Duration))) {
	tests := []struct {
		name string
		test func(t *testing.T, s auth.MFAChallenges, elapse func(time.Duration))
	}{
		{"Pending", testMFAPending},
		{"PendingExpires", testMFAPendingExpires},
		{"TokenTakenOnce", testMFATokenTakenOnce},
		{"TokenTakenOnceConcurrently", testMFATokenTakenOnceConcurrently},
		{"TokenExpires", testMFATokenExpires},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, elapse := open(t)
			tc.test(t, s, elapse)
		})
	}
}

// testMFAPending: an enrolment reads back, a new one replaces it, each user
// has their own, and a deletion forgets it.
func testMFAPending(t *testing.T, s auth.MFAChallenges, _ func(time.Duration)) {
	ctx := t.Context()
	if _, err := s.MFAPending(ctx, 1); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("MFAPending(none) error = %v, want ErrNotFound", err)
	}
	for _, v := range []string{"first\x00\xff", "second"} {
		if err := s.PutMFAPending(ctx, 1, v, time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, err := s.MFAPending(ctx, 1); err != nil || got != v {
			t.Errorf("MFAPending = %q, %v; want %q", got, err, v)
		}
	}
	if err := s.PutMFAPending(ctx, 2, "other user", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMFAPending(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MFAPending(ctx, 1); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("MFAPending(deleted) error = %v, want ErrNotFound", err)
	}
	if got, err := s.MFAPending(ctx, 2); err != nil || got != "other user" {
		t.Errorf("MFAPending(other user) = %q, %v; want it untouched", got, err)
	}
	if err := s.DeleteMFAPending(ctx, 3); err != nil {
		t.Errorf("DeleteMFAPending(none) error = %v, want nil", err)
	}
}

func testMFAPendingExpires(t *testing.T, s auth.MFAChallenges, elapse func(time.Duration)) {
	if err := s.PutMFAPending(t.Context(), 1, "v", 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	elapse(200 * time.Millisecond)
	if _, err := s.MFAPending(t.Context(), 1); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("MFAPending(after its TTL) error = %v, want ErrNotFound", err)
	}
}

// testMFATokenTakenOnce: a token is taken once, by its own user and hash.
func testMFATokenTakenOnce(t *testing.T, s auth.MFAChallenges, _ func(time.Duration)) {
	ctx := t.Context()
	if err := s.PutMFAToken(ctx, 7, "hash-a", "value a", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMFAToken(ctx, 7, "hash-b", "value b", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeMFAToken(ctx, 8, "hash-a"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("TakeMFAToken(other user) error = %v, want ErrNotFound", err)
	}
	if got, err := s.TakeMFAToken(ctx, 7, "hash-a"); err != nil || got != "value a" {
		t.Errorf("TakeMFAToken = %q, %v; want %q", got, err, "value a")
	}
	if _, err := s.TakeMFAToken(ctx, 7, "hash-a"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("TakeMFAToken(taken) error = %v, want ErrNotFound", err)
	}
	if got, err := s.TakeMFAToken(ctx, 7, "hash-b"); err != nil || got != "value b" {
		t.Errorf("TakeMFAToken(second token) = %q, %v; want %q", got, err, "value b")
	}
	if err := s.PutMFAToken(ctx, 7, "hash-c", "c", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMFAToken(ctx, 7, "hash-c", "overwritten", time.Minute); err == nil {
		t.Error("PutMFAToken over an existing token succeeded, want an error")
	}
	if got, _ := s.TakeMFAToken(ctx, 7, "hash-c"); got != "c" {
		t.Errorf("TakeMFAToken after a refused overwrite = %q, want %q", got, "c")
	}
}

// testMFATokenTakenOnceConcurrently: of many takers at once, one gets it.
func testMFATokenTakenOnceConcurrently(t *testing.T, s auth.MFAChallenges, _ func(time.Duration)) {
	if err := s.PutMFAToken(t.Context(), 9, "hash", "v", time.Minute); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []string
	for range 16 {
		wg.Go(func() {
			v, err := s.TakeMFAToken(t.Context(), 9, "hash")
			switch {
			case err == nil:
				mu.Lock()
				got = append(got, v)
				mu.Unlock()
			case !errors.Is(err, auth.ErrNotFound):
				t.Errorf("TakeMFAToken error = %v", err)
			}
		})
	}
	wg.Wait()
	if len(got) != 1 {
		t.Errorf("the token was taken %d times (%v), want once", len(got), got)
	}
}

func testMFATokenExpires(t *testing.T, s auth.MFAChallenges, elapse func(time.Duration)) {
	for i := range 2 {
		if err := s.PutMFAToken(t.Context(), 1, fmt.Sprint("h", i), "v", 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	elapse(200 * time.Millisecond)
	if _, err := s.TakeMFAToken(t.Context(), 1, "h0"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("TakeMFAToken(after its TTL) error = %v, want ErrNotFound", err)
	}
}
