package auth

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMergePreferences(t *testing.T) {
	cur := Preferences{"theme": json.RawMessage(`"dark"`), "size": json.RawMessage(`12`)}
	got, err := MergePreferences(cur, Preferences{"theme": json.RawMessage(`null`), "lang": json.RawMessage(`{"a":[1,2]}`)}, MaxPreferenceBytes)
	if err != nil {
		t.Fatal(err)
	}
	want := Preferences{"size": json.RawMessage(`12`), "lang": json.RawMessage(`{"a":[1,2]}`)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merge (-want +got):\n%s", diff)
	}
	if _, ok := cur["lang"]; ok {
		t.Error("MergePreferences modified its input")
	}
	big := json.RawMessage(`"` + strings.Repeat("x", MaxPreferenceBytes) + `"`)
	if _, err := MergePreferences(nil, Preferences{"k": big}, MaxPreferenceBytes); !errors.Is(err, ErrPreferencesTooLarge) {
		t.Errorf("64 KiB value: err = %v, want ErrPreferencesTooLarge", err)
	}
}
