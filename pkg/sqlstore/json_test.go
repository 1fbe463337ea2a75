package sqlstore_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
	"authfn/pkg/sqlstore"
)

func TestDetailsRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   map[string]any
		col  string
	}{
		{"nil", nil, "{}"},
		{"empty", map[string]any{}, "{}"},
		{"values", map[string]any{"reason": "bad password", "n": 3.0}, `{"n":3,"reason":"bad password"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col, err := sqlstore.EncodeDetails(tc.in)
			if err != nil || col != tc.col {
				t.Fatalf("EncodeDetails = %q, %v; want %q", col, err, tc.col)
			}
			back, err := sqlstore.DecodeDetails([]byte(col))
			if err != nil {
				t.Fatalf("DecodeDetails error = %v", err)
			}
			want := tc.in
			if len(want) == 0 {
				want = nil // an event without details reads back without
			}
			if diff := cmp.Diff(want, back); diff != "" {
				t.Errorf("details round trip (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := sqlstore.DecodeDetails([]byte("[1]")); err == nil {
		t.Error("DecodeDetails([1]) error = nil; want one")
	}
	if _, err := sqlstore.EncodeDetails(map[string]any{"f": func() {}}); err == nil {
		t.Error("EncodeDetails(func) error = nil; want one")
	}
}

func TestDecodePreferences(t *testing.T) {
	p, err := sqlstore.DecodePreferences(nil)
	if err != nil || p == nil || len(p) != 0 {
		t.Errorf("DecodePreferences(nil) = %#v, %v; want an empty non-nil map", p, err)
	}
	p, err = sqlstore.DecodePreferences([]byte(`{"theme":"dark"}`))
	if err != nil || len(p) != 1 {
		t.Errorf(`DecodePreferences({"theme":"dark"}) = %#v, %v`, p, err)
	}
	if _, err := sqlstore.DecodePreferences([]byte(`nope`)); err == nil {
		t.Error("DecodePreferences(nope) error = nil; want one")
	}
}

func TestApplyPatch(t *testing.T) {
	cur := auth.User{ID: 7, Username: "ann", FullName: "Ann", IsAdmin: true, IsActive: true, PasswordHash: "h1"}
	name, inactive, hash := "Ann B", false, "h2"
	got := sqlstore.ApplyPatch(cur, auth.UserPatch{FullName: &name, IsActive: &inactive, PasswordHash: &hash})
	want := auth.User{ID: 7, Username: "ann", FullName: "Ann B", IsAdmin: true, IsActive: false, PasswordHash: "h2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ApplyPatch (-want +got):\n%s", diff)
	}
	if !sqlstore.LosesActiveAdmin(cur, got) {
		t.Error("LosesActiveAdmin(active admin, deactivated) = false")
	}
	if sqlstore.LosesActiveAdmin(cur, sqlstore.ApplyPatch(cur, auth.UserPatch{FullName: &name})) {
		t.Error("LosesActiveAdmin(active admin, renamed) = true")
	}
	cur.IsActive = false
	if sqlstore.LosesActiveAdmin(cur, sqlstore.ApplyPatch(cur, auth.UserPatch{})) {
		t.Error("LosesActiveAdmin(inactive admin, unchanged) = true")
	}
}

func TestMergePreferences(t *testing.T) {
	stored := []byte(`{"theme":"dark","lang":"en"}`)
	patch := auth.Preferences{"lang": json.RawMessage(`null`), "tz": json.RawMessage(`"UTC"`)}
	out, col, err := sqlstore.MergePreferences(stored, patch, 1000)
	if err != nil {
		t.Fatalf("MergePreferences error = %v", err)
	}
	want := auth.Preferences{"theme": json.RawMessage(`"dark"`), "tz": json.RawMessage(`"UTC"`)}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
	if col != `{"theme":"dark","tz":"UTC"}` {
		t.Errorf("stored JSON = %s", col)
	}
	if _, _, err := sqlstore.MergePreferences(nil, patch, 5); !errors.Is(err, auth.ErrPreferencesTooLarge) {
		t.Errorf("MergePreferences over max error = %v; want ErrPreferencesTooLarge", err)
	}
	if _, _, err := sqlstore.MergePreferences([]byte(`nope`), patch, 1000); err == nil {
		t.Error("MergePreferences of a corrupt column error = nil; want one")
	}
}
