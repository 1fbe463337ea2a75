package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
)

// decoded turns preferences into plain values, because a store may keep
// JSON reformatted (PostgreSQL's jsonb drops whitespace and reorders keys):
// values must round-trip as equal JSON, not as equal bytes.
func decoded(t *testing.T, p auth.Preferences) map[string]any {
	t.Helper()
	out := make(map[string]any, len(p))
	for k, raw := range p {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("preference %q = %s: not JSON: %v", k, raw, err)
		}
		out[k] = v
	}
	return out
}

func prefs(kv map[string]string) auth.Preferences {
	p := auth.Preferences{}
	for k, v := range kv {
		p[k] = json.RawMessage(v)
	}
	return p
}

func testPreferencesEmpty(t *testing.T, s SQLStores) {
	u := createUser(t, s, "nobody-set-any", false)
	for _, tc := range []struct {
		name string
		id   int64
	}{
		{"user without preferences", u.ID},
		{"unknown user", u.ID + 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Preferences(t.Context(), tc.id)
			if err != nil {
				t.Fatalf("Preferences error = %v", err)
			}
			if got == nil || len(got) != 0 {
				t.Errorf("Preferences = %#v, want an empty non-nil map", got)
			}
		})
	}
}

func testUpdatePreferences(t *testing.T, s SQLStores) {
	u := createUser(t, s, "prefs", false)
	other := createUser(t, s, "other", false)
	// Steps run in order against one user; want is the whole result.
	steps := []struct {
		name  string
		patch map[string]string
		want  map[string]string
	}{
		{"first keys",
			map[string]string{"theme": `"dark"`, "page.size": `25`},
			map[string]string{"theme": `"dark"`, "page.size": `25`}},
		{"replace one, add one",
			map[string]string{"theme": `"light"`, "layout_v2": `{"cols": [1, 2.5, -3e2], "dense": true, "name": "ünï\"cödé"}`},
			map[string]string{"theme": `"light"`, "page.size": `25`, "layout_v2": `{"dense":true,"name":"ünï\"cödé","cols":[1,2.5,-300]}`}},
		{"null deletes",
			map[string]string{"page.size": `null`},
			map[string]string{"theme": `"light"`, "layout_v2": `{"cols":[1,2.5,-300],"dense":true,"name":"ünï\"cödé"}`}},
		{"null of a missing key",
			map[string]string{"never-set": ` null `},
			map[string]string{"theme": `"light"`, "layout_v2": `{"cols":[1,2.5,-300],"dense":true,"name":"ünï\"cödé"}`}},
		{"other JSON kinds",
			map[string]string{"empty.object": `{}`, "empty.array": `[]`, "false": `false`, "zero": `0`, "empty.string": `""`},
			map[string]string{"theme": `"light"`, "layout_v2": `{"cols":[1,2.5,-300],"dense":true,"name":"ünï\"cödé"}`,
				"empty.object": `{}`, "empty.array": `[]`, "false": `false`, "zero": `0`, "empty.string": `""`}},
		{"empty patch", map[string]string{},
			map[string]string{"theme": `"light"`, "layout_v2": `{"cols":[1,2.5,-300],"dense":true,"name":"ünï\"cödé"}`,
				"empty.object": `{}`, "empty.array": `[]`, "false": `false`, "zero": `0`, "empty.string": `""`}},
	}
	for _, step := range steps {
		got, err := s.UpdatePreferences(t.Context(), u.ID, prefs(step.patch), auth.MaxPreferenceBytes)
		if err != nil {
			t.Fatalf("%s: UpdatePreferences error = %v", step.name, err)
		}
		want := decoded(t, prefs(step.want))
		if diff := cmp.Diff(want, decoded(t, got)); diff != "" {
			t.Errorf("%s: UpdatePreferences result (-want +got):\n%s", step.name, diff)
		}
		read, err := s.Preferences(t.Context(), u.ID)
		if err != nil {
			t.Fatalf("%s: Preferences error = %v", step.name, err)
		}
		if diff := cmp.Diff(want, decoded(t, read)); diff != "" {
			t.Errorf("%s: Preferences after update (-want +got):\n%s", step.name, diff)
		}
	}
	if p, err := s.Preferences(t.Context(), other.ID); err != nil || len(p) != 0 {
		t.Errorf("Preferences(other user) = %v, %v; want empty", p, err)
	}
}

func testUpdatePreferencesUnknownUser(t *testing.T, s SQLStores) {
	u := createUser(t, s, "someone", false)
	_, err := s.UpdatePreferences(t.Context(), u.ID+1000, prefs(map[string]string{"a": `1`}), auth.MaxPreferenceBytes)
	if !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("UpdatePreferences(unknown user) error = %v, want ErrNotFound", err)
	}
}

func testUpdatePreferencesTooLarge(t *testing.T, s SQLStores) {
	u := createUser(t, s, "big", false)
	start := map[string]string{"keep": `"me"`}
	if _, err := s.UpdatePreferences(t.Context(), u.ID, prefs(start), auth.MaxPreferenceBytes); err != nil {
		t.Fatalf("UpdatePreferences error = %v", err)
	}
	tests := []struct {
		name  string
		patch map[string]string
		max   int
	}{
		{"one value over the default bound", map[string]string{"blob": `"` + strings.Repeat("x", auth.MaxPreferenceBytes) + `"`}, auth.MaxPreferenceBytes},
		{"over a small bound", map[string]string{"a": `"` + strings.Repeat("y", 100) + `"`}, 64},
		// A delete that would fit does not let a too-large value in.
		{"delete and add", map[string]string{"keep": `null`, "blob": `"` + strings.Repeat("z", 200) + `"`}, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.UpdatePreferences(t.Context(), u.ID, prefs(tc.patch), tc.max)
			if !errors.Is(err, auth.ErrPreferencesTooLarge) {
				t.Errorf("UpdatePreferences error = %v, want ErrPreferencesTooLarge", err)
			}
			got, err := s.Preferences(t.Context(), u.ID)
			if err != nil {
				t.Fatalf("Preferences error = %v", err)
			}
			if diff := cmp.Diff(decoded(t, prefs(start)), decoded(t, got)); diff != "" {
				t.Errorf("stored preferences changed (-want +got):\n%s", diff)
			}
		})
	}
}

func testUpdatePreferencesInvalid(t *testing.T, s SQLStores) {
	u := createUser(t, s, "invalid", false)
	start := map[string]string{"keep": `"me"`}
	if _, err := s.UpdatePreferences(t.Context(), u.ID, prefs(start), auth.MaxPreferenceBytes); err != nil {
		t.Fatalf("UpdatePreferences error = %v", err)
	}
	_, err := s.UpdatePreferences(t.Context(), u.ID, prefs(map[string]string{"bad": `{not json`}), auth.MaxPreferenceBytes)
	if got := auth.ErrorCode(err); got != auth.CodeInvalidRequest {
		t.Errorf("UpdatePreferences(invalid JSON) code = %q (error %v), want %q", got, err, auth.CodeInvalidRequest)
	}
	got, err := s.Preferences(t.Context(), u.ID)
	if err != nil {
		t.Fatalf("Preferences error = %v", err)
	}
	if diff := cmp.Diff(decoded(t, prefs(start)), decoded(t, got)); diff != "" {
		t.Errorf("stored preferences changed (-want +got):\n%s", diff)
	}
}

func testUpdatePreferencesConcurrent(t *testing.T, s SQLStores) {
	u := createUser(t, s, "busy", false)
	const n = 20
	want := map[string]any{}
	for i := range n {
		want[fmt.Sprintf("key%02d", i)] = float64(i)
	}
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Go(func() {
			start.Wait()
			patch := auth.Preferences{fmt.Sprintf("key%02d", i): json.RawMessage(fmt.Sprint(i))}
			if _, err := s.UpdatePreferences(t.Context(), u.ID, patch, auth.MaxPreferenceBytes); err != nil {
				t.Errorf("UpdatePreferences(key%02d) error = %v", i, err)
			}
		})
	}
	start.Done()
	wg.Wait()
	got, err := s.Preferences(t.Context(), u.ID)
	if err != nil {
		t.Fatalf("Preferences error = %v", err)
	}
	if diff := cmp.Diff(want, decoded(t, got)); diff != "" {
		t.Errorf("preferences after %d concurrent merges (-want +got): a lost update\n%s", n, diff)
	}
}
