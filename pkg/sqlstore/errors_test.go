package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"authfn/pkg/auth"
	"authfn/pkg/sqlstore"
)

func TestTranslate(t *testing.T) {
	driverErr := errors.New("driver says no")
	live := context.Background()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		err      error
		kind     sqlstore.Kind
		wantCode auth.Code // "" for a plain error
		wantIs   error     // nil to skip
	}{
		{"no rows", live, driverErr, sqlstore.NoRows, auth.CodeNotFound, auth.ErrNotFound},
		{"unique violation", live, driverErr, sqlstore.UniqueViolation, auth.CodeConflict, auth.ErrUsernameTaken},
		{"unreachable", live, driverErr, sqlstore.Unreachable, auth.CodeUnavailable, driverErr},
		{"unreachable after the caller gave up", gone, driverErr, sqlstore.Unreachable, "", driverErr},
		{"unique violation after the caller gave up", gone, driverErr, sqlstore.UniqueViolation, auth.CodeConflict, auth.ErrUsernameTaken},
		{"other", live, driverErr, sqlstore.Other, "", driverErr},
		{"auth error passes through", live, auth.ErrLastAdmin, sqlstore.Unreachable, auth.CodeConflict, auth.ErrLastAdmin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := sqlstore.Translate(tc.ctx, tc.err, tc.kind, "testdb", "do thing 7")
			var ae *auth.Error
			isAuth := errors.As(got, &ae)
			switch {
			case tc.wantCode == "" && isAuth:
				t.Errorf("Translate = %v (code %s); want a plain error", got, ae.Code)
			case tc.wantCode != "" && (!isAuth || ae.Code != tc.wantCode):
				t.Errorf("Translate = %v; want code %s", got, tc.wantCode)
			}
			if tc.wantIs != nil && !errors.Is(got, tc.wantIs) {
				t.Errorf("Translate = %v; errors.Is(%v) = false", got, tc.wantIs)
			}
			if tc.err != auth.ErrLastAdmin && !strings.Contains(errorChain(got), "do thing 7") {
				t.Errorf("Translate = %v; want the operation in the chain", got)
			}
		})
	}
}

// errorChain is the text of err and of every cause below it, since an
// auth.Error's message is the client's and the operation is in its cause.
func errorChain(err error) string {
	var b strings.Builder
	for ; err != nil; err = errors.Unwrap(err) {
		b.WriteString(err.Error())
		b.WriteString(" | ")
	}
	return b.String()
}

func TestWithCauseKeepsSentinel(t *testing.T) {
	cause := errors.New("unique_violation")
	err := sqlstore.WithCause(auth.ErrUsernameTaken, cause)
	if !errors.Is(err, auth.ErrUsernameTaken) {
		t.Errorf("errors.Is(WithCause, ErrUsernameTaken) = false")
	}
	if !errors.Is(err, cause) {
		t.Errorf("errors.Is(WithCause, cause) = false")
	}
	if auth.ErrUsernameTaken.Err != nil {
		t.Errorf("WithCause changed the sentinel: Err = %v", auth.ErrUsernameTaken.Err)
	}
}
