package storetest

import (
	"bytes"
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

// LongNumbers are preference values (by a key of their own) that hold a
// number longer than auth.MaxPreferenceNumberChars written out in full,
// the way PostgreSQL prints it; every store, and the API, refuses each.
func LongNumbers() map[string]string {
	return map[string]string{
		"negative.tiny":       `-1e-131071`,
		"long.fraction":       `0.` + strings.Repeat("0", 200) + `1`,
		"upper.exponent":      `1E+400`,
		"huge.exponent":       `1e999999999`,
		"exponent.past.int64": `-1e99999999999999999999999999999`,
		"zero.unreadable":     `0e9999999999`, // PostgreSQL cannot read this exponent, even on a zero
		"digits.41":           `1e40`,
		"sign.and.40":         `-1e39`,
		"after.point.41":      `1e-39`,
		"digits.written.41":   strings.Repeat("9", 41),
		"largest.double":      `1.7976931348623157e308`,
		"nested.arrays":       `[[1],[[2,1e131071]]]`,
		"in.an.object":        `{"a":{"b":[true,"1e999",-1e-400]}}`,
		"many.in.an.array":    `[` + strings.Repeat(`1e131071,`, 100) + `1]`,
	}
}

// BoundNumbers are preference values whose numbers are at most
// auth.MaxPreferenceNumberChars written out in full; each is stored and
// reads back as the same value (not always in the same form: PostgreSQL
// prints 1e39 as 40 digits).
func BoundNumbers() map[string]string {
	return map[string]string{
		"power":        `1e39`,
		"neg.power":    `-1e38`,
		"small":        `1e-38`,
		"neg.small":    `-1e-37`,
		"digits":       strings.Repeat("7", 40),
		"neg.digits":   `-` + strings.Repeat("9", 39),
		"fraction":     `0.` + strings.Repeat("5", 38),
		"mixed":        `12345678901234567890.1234567890123456789`,
		"int64.min":    `-9223372036854775808`,
		"zero.exp":     `0e999999999`,
		"scaled":       `1234567890e-30`,
		"nested":       `{"a":[1e39,[-1e-37]]}`,
		"string.digit": `"1e131071"`,
	}
}

// numberLiterals returns every number in the JSON value raw as written.
func numberLiterals(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: not JSON: %v", raw, err)
	}
	var out []string
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case json.Number:
			out = append(out, string(x))
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// testUpdatePreferencesLongNumbers: a number longer than
// auth.MaxPreferenceNumberChars written out in full is refused by every
// store with its key named, whatever its exponent, and nothing is written;
// one at the bound is stored and reads back no longer than the bound
// (PostgreSQL prints numbers in full).
func testUpdatePreferencesLongNumbers(t *testing.T, s SQLStores) {
	u := createUser(t, s, "numbers", false)
	start := map[string]string{"keep": `"me"`}
	if _, err := s.UpdatePreferences(t.Context(), u.ID, prefs(start), auth.MaxPreferenceBytes); err != nil {
		t.Fatalf("UpdatePreferences error = %v", err)
	}
	unchanged := func(t *testing.T) {
		t.Helper()
		got, err := s.Preferences(t.Context(), u.ID)
		if err != nil {
			t.Fatalf("Preferences error = %v", err)
		}
		if diff := cmp.Diff(decoded(t, prefs(start)), decoded(t, got)); diff != "" {
			t.Errorf("stored preferences changed (-want +got):\n%s", diff)
		}
	}
	refused := func(t *testing.T, patch auth.Preferences) {
		t.Helper()
		_, err := s.UpdatePreferences(t.Context(), u.ID, patch, auth.MaxPreferenceBytes)
		var ae *auth.Error
		if !errors.As(err, &ae) || ae.Code != auth.CodeValidation {
			t.Fatalf("UpdatePreferences error = %v, want %s", err, auth.CodeValidation)
		}
		for k := range patch {
			if k != "fine" && ae.Fields[k] == "" {
				t.Errorf("error fields %v do not name %q", ae.Fields, k)
			}
		}
		if _, ok := ae.Fields["fine"]; ok || len(ae.Fields) != len(patch)-1 {
			t.Errorf("error fields %v, want exactly the keys with long numbers", ae.Fields)
		}
		unchanged(t)
	}

	t.Run("the audit's 1000 keys of 1e131071", func(t *testing.T) {
		patch := auth.Preferences{"fine": json.RawMessage(`1`)}
		for i := range 1000 {
			patch[fmt.Sprintf("k%04d", i)] = json.RawMessage(`1e131071`)
		}
		refused(t, patch)
	})
	for name, v := range LongNumbers() {
		t.Run(name, func(t *testing.T) {
			refused(t, auth.Preferences{"bad": json.RawMessage(v), "fine": json.RawMessage(`2`)})
		})
	}

	t.Run("at the bound", func(t *testing.T) {
		atBound := BoundNumbers()
		if _, err := s.UpdatePreferences(t.Context(), u.ID, prefs(atBound), auth.MaxPreferenceBytes); err != nil {
			t.Fatalf("UpdatePreferences error = %v", err)
		}
		got, err := s.Preferences(t.Context(), u.ID)
		if err != nil {
			t.Fatalf("Preferences error = %v", err)
		}
		want := decoded(t, prefs(atBound))
		want["keep"] = "me"
		if diff := cmp.Diff(want, decoded(t, got)); diff != "" {
			t.Errorf("Preferences (-want +got):\n%s", diff)
		}
		for k, raw := range got {
			for _, n := range numberLiterals(t, raw) {
				if len(n) > auth.MaxPreferenceNumberChars {
					t.Errorf("%s reads back with a number of %d characters: %s", k, len(n), n)
				}
			}
		}
	})
}

// testUpdatePreferencesSizeAsRead fills the preferences to the limit with
// many small keys whose numbers PostgreSQL prints longer than written and
// whose nested values it prints with spaces, and holds what Preferences
// returns, encoded as a response encodes it, to the limit.
func testUpdatePreferencesSizeAsRead(t *testing.T, s SQLStores) {
	u := createUser(t, s, "full", false)
	const max = 4096
	values := []string{`1e39`, `{"b":[1,2e1,{"c":3e2}],"a":true}`, `-1e-37`, `"<x>"`}
	next := 0
	for batch := 64; batch >= 1; { // halves on each refusal
		patch := auth.Preferences{}
		for i := range batch {
			patch[fmt.Sprintf("n%04d", next+i)] = json.RawMessage(values[(next+i)%len(values)])
		}
		_, err := s.UpdatePreferences(t.Context(), u.ID, patch, max)
		switch {
		case err == nil:
			next += batch
		case errors.Is(err, auth.ErrPreferencesTooLarge):
			batch /= 2
		default:
			t.Fatalf("UpdatePreferences(%d keys) error = %v", batch, err)
		}
	}
	got, err := s.Preferences(t.Context(), u.ID)
	if err != nil {
		t.Fatalf("Preferences error = %v", err)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	// SQLite returns numbers as written, so what it returns may be smaller
	// than the measure; the measure shows that the fill reached the limit.
	const oneKey = 64 // a member here is at most 52 bytes as printed
	if len(b) > max || auth.PrintedSize(b) < max-oneKey {
		t.Errorf("%d keys read back as %d bytes (PrintedSize %d), want at most %d and the limit reached",
			next, len(b), auth.PrintedSize(b), max)
	}
}
