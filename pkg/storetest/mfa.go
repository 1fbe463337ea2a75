package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
)

// enrolment is an MFAEnrolment as the core makes one, with n recovery
// code hashes named after prefix.
func enrolment(prefix string, step int64, n int) auth.MFAEnrolment {
	e := auth.MFAEnrolment{Secret: []byte("\x01sealed secret of " + prefix + "\x00\xff"), LastStep: step, EnabledAt: baseTime()}
	for i := range n {
		e.RecoveryHashes = append(e.RecoveryHashes, fmt.Sprintf("%s-hash-%02d", prefix, i))
	}
	return e
}

func enableMFA(t *testing.T, s SQLStores, u auth.User, e auth.MFAEnrolment) {
	t.Helper()
	if err := s.EnableMFA(t.Context(), u.ID, e); err != nil {
		t.Fatalf("EnableMFA(%d) error = %v", u.ID, err)
	}
}

// testMFAEnable: a stored enrolment reads back whole, turns mfa_enabled on
// in every read of the user, and cannot be stored twice.
func testMFAEnable(t *testing.T, s SQLStores) {
	ctx := t.Context()
	ada := createUser(t, s, "ada", false)
	other := createUser(t, s, "other", false)
	if ada.MFAEnabled {
		t.Fatal("a new user has MFAEnabled")
	}
	if _, err := s.MFA(ctx, ada.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("MFA(before) error = %v, want ErrNotFound", err)
	}
	e := enrolment("ada", 58_000_123, auth.RecoveryCodeCount)
	enableMFA(t, s, ada, e)
	got, err := s.MFA(ctx, ada.ID)
	if err != nil {
		t.Fatalf("MFA error = %v", err)
	}
	want := auth.MFARecord{Secret: e.Secret, LastStep: e.LastStep, EnabledAt: e.EnabledAt, RecoveryCodes: auth.RecoveryCodeCount}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MFA mismatch (-want +got):\n%s", diff)
	}
	reads := map[string]func() (auth.User, error){
		"User":           func() (auth.User, error) { return s.User(ctx, ada.ID) },
		"UserByUsername": func() (auth.User, error) { return s.UserByUsername(ctx, "ADA") },
		"UpdateUser": func() (auth.User, error) {
			name := "Ada L."
			return s.UpdateUser(ctx, ada.ID, auth.UserPatch{FullName: &name, UpdatedAt: baseTime()})
		},
		"ListUsers": func() (auth.User, error) {
			us, err := s.ListUsers(ctx, auth.UserQuery{Limit: 10})
			if err != nil || len(us) != 2 {
				return auth.User{}, fmt.Errorf("ListUsers = %v, %v", us, err)
			}
			if us[1].MFAEnabled {
				return auth.User{}, errors.New("the other user reads as MFAEnabled")
			}
			return us[0], nil
		},
	}
	for name, read := range reads {
		u, err := read()
		if err != nil || !u.MFAEnabled {
			t.Errorf("%s = MFAEnabled %v, %v; want true", name, u.MFAEnabled, err)
		}
	}
	if u, err := s.User(ctx, other.ID); err != nil || u.MFAEnabled {
		t.Errorf("User(other) = MFAEnabled %v, %v; want false", u.MFAEnabled, err)
	}

	err = s.EnableMFA(ctx, ada.ID, enrolment("again", 1, 3))
	if !errors.Is(err, auth.ErrMFAEnabled) || auth.ErrorCode(err) != auth.CodeConflict {
		t.Errorf("EnableMFA(twice) error = %v, want ErrMFAEnabled", err)
	}
	if got, _ := s.MFA(ctx, ada.ID); got.LastStep != e.LastStep || got.RecoveryCodes != auth.RecoveryCodeCount {
		t.Errorf("after a refused second EnableMFA: %+v, want the first enrolment untouched", got)
	}
	if err := s.EnableMFA(ctx, other.ID+1000, enrolment("ghost", 1, 3)); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("EnableMFA(unknown user) error = %v, want ErrNotFound", err)
	}
}

// testMFAEnableConcurrent: of several enrolments racing for one user,
// exactly one is stored, with its own recovery codes only.
func testMFAEnableConcurrent(t *testing.T, s SQLStores) {
	u := createUser(t, s, "racer", false)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.EnableMFA(t.Context(), u.ID, enrolment(fmt.Sprint("e", i), int64(i), 4)) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, auth.ErrMFAEnabled):
			t.Errorf("EnableMFA error = %v, want nil or ErrMFAEnabled", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d enrolments stored, want 1", won)
	}
	if m, err := s.MFA(t.Context(), u.ID); err != nil || m.RecoveryCodes != 4 {
		t.Errorf("MFA = %+v, %v; want the 4 codes of the one enrolment", m, err)
	}
}

// testMFAStepOnlyForward: a step is accepted once, and never one at or
// before the last accepted.
func testMFAStepOnlyForward(t *testing.T, s SQLStores) {
	ctx := t.Context()
	u := createUser(t, s, "stepper", false)
	if ok, err := s.AdvanceMFAStep(ctx, u.ID, 10); err != nil || ok {
		t.Errorf("AdvanceMFAStep(MFA off) = %v, %v; want false", ok, err)
	}
	enableMFA(t, s, u, enrolment("stepper", 100, 1))
	for _, tc := range []struct {
		step int64
		ok   bool
	}{{100, false}, {99, false}, {101, true}, {101, false}, {103, true}, {102, false}} {
		if ok, err := s.AdvanceMFAStep(ctx, u.ID, tc.step); err != nil || ok != tc.ok {
			t.Errorf("AdvanceMFAStep(%d) = %v, %v; want %v", tc.step, ok, err, tc.ok)
		}
	}
	if m, _ := s.MFA(ctx, u.ID); m.LastStep != 103 {
		t.Errorf("LastStep = %d, want 103", m.LastStep)
	}
}

// testMFAStepConcurrent: of many requests with the same step at once,
// exactly one advances it (the replay check cannot be raced).
func testMFAStepConcurrent(t *testing.T, s SQLStores) {
	u := createUser(t, s, "concurrent", false)
	enableMFA(t, s, u, enrolment("concurrent", 500, 1))
	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range n {
		wg.Go(func() {
			ok, err := s.AdvanceMFAStep(t.Context(), u.ID, 501)
			if err != nil {
				t.Errorf("AdvanceMFAStep error = %v", err)
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d of %d requests advanced to one step, want 1", won, n)
	}
}

// testMFARecoveryCodes: each code works once, only for its user, and a
// concurrent double use succeeds once.
func testMFARecoveryCodes(t *testing.T, s SQLStores) {
	ctx := t.Context()
	a := createUser(t, s, "codes-a", false)
	b := createUser(t, s, "codes-b", false)
	ea, eb := enrolment("a", 1, 3), enrolment("b", 1, 3)
	eb.RecoveryHashes[0] = ea.RecoveryHashes[0] // two users may hold an equal hash
	enableMFA(t, s, a, ea)
	enableMFA(t, s, b, eb)
	if ok, err := s.UseRecoveryCode(ctx, a.ID, "no such hash"); err != nil || ok {
		t.Errorf("UseRecoveryCode(unknown) = %v, %v; want false", ok, err)
	}
	if ok, err := s.UseRecoveryCode(ctx, a.ID, eb.RecoveryHashes[1]); err != nil || ok {
		t.Errorf("UseRecoveryCode(another user's code) = %v, %v; want false", ok, err)
	}
	if ok, err := s.UseRecoveryCode(ctx, a.ID, ea.RecoveryHashes[0]); err != nil || !ok {
		t.Errorf("UseRecoveryCode(first use) = %v, %v; want true", ok, err)
	}
	if ok, err := s.UseRecoveryCode(ctx, a.ID, ea.RecoveryHashes[0]); err != nil || ok {
		t.Errorf("UseRecoveryCode(second use) = %v, %v; want false", ok, err)
	}
	if ok, err := s.UseRecoveryCode(ctx, b.ID, eb.RecoveryHashes[0]); err != nil || !ok {
		t.Errorf("UseRecoveryCode(b's equal hash) = %v, %v; want true: a's use is a's alone", ok, err)
	}
	if m, _ := s.MFA(ctx, a.ID); m.RecoveryCodes != 2 {
		t.Errorf("RecoveryCodes = %d, want 2", m.RecoveryCodes)
	}

	var wg sync.WaitGroup
	results := make([]bool, 8)
	for i := range results {
		wg.Go(func() {
			ok, err := s.UseRecoveryCode(t.Context(), a.ID, ea.RecoveryHashes[1])
			if err != nil {
				t.Errorf("UseRecoveryCode error = %v", err)
			}
			results[i] = ok
		})
	}
	wg.Wait()
	if n := len(slices.DeleteFunc(results, func(ok bool) bool { return !ok })); n != 1 {
		t.Errorf("a recovery code used %d times at once, want 1", n)
	}
}

// testMFADisable: disabling removes the secret and the codes, and MFA can
// be turned on again afresh; deleting the user takes its MFA too.
func testMFADisable(t *testing.T, s SQLStores) {
	ctx := t.Context()
	createUser(t, s, "admin", true)
	u := createUser(t, s, "disabler", false)
	if ok, err := s.DisableMFA(ctx, u.ID); err != nil || ok {
		t.Errorf("DisableMFA(off) = %v, %v; want false", ok, err)
	}
	e := enrolment("first", 7, 2)
	enableMFA(t, s, u, e)
	if ok, err := s.DisableMFA(ctx, u.ID); err != nil || !ok {
		t.Errorf("DisableMFA(on) = %v, %v; want true", ok, err)
	}
	if _, err := s.MFA(ctx, u.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("MFA(after disable) error = %v, want ErrNotFound", err)
	}
	if got, _ := s.User(ctx, u.ID); got.MFAEnabled {
		t.Error("User after DisableMFA has MFAEnabled")
	}
	if ok, _ := s.UseRecoveryCode(ctx, u.ID, e.RecoveryHashes[0]); ok {
		t.Error("a recovery code of a disabled enrolment still works")
	}
	enableMFA(t, s, u, enrolment("second", 3, 1))
	if m, err := s.MFA(ctx, u.ID); err != nil || m.LastStep != 3 || m.RecoveryCodes != 1 {
		t.Errorf("MFA(re-enabled) = %+v, %v; want the second enrolment alone", m, err)
	}
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MFA(ctx, u.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("MFA(deleted user) error = %v, want ErrNotFound", err)
	}
}

// testMFAKeyCheck: the first value stored stays; later ones read it back.
func testMFAKeyCheck(t *testing.T, s SQLStores) {
	ctx := t.Context()
	if _, err := s.MFAKeyCheck(ctx); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("MFAKeyCheck(none) error = %v, want ErrNotFound", err)
	}
	var wg sync.WaitGroup
	got := make([]string, 6)
	for i := range got {
		wg.Go(func() {
			v, err := s.InitMFAKeyCheck(t.Context(), fmt.Sprint("check-", i))
			if err != nil {
				t.Errorf("InitMFAKeyCheck error = %v", err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	if len(slices.Compact(slices.Sorted(slices.Values(got)))) != 1 {
		t.Errorf("concurrent InitMFAKeyCheck returned %v, want one value for all", got)
	}
	if v, err := s.MFAKeyCheck(ctx); err != nil || v != got[0] {
		t.Errorf("MFAKeyCheck = %q, %v; want %q", v, err, got[0])
	}
	if v, err := s.InitMFAKeyCheck(ctx, "another"); err != nil || v != got[0] {
		t.Errorf("InitMFAKeyCheck(later) = %q, %v; want the first %q", v, err, got[0])
	}
}
