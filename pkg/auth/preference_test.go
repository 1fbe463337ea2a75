package auth

import (
	"encoding/json"
	"errors"
	"fmt"
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

func TestNumberTextLen(t *testing.T) {
	for num, want := range map[string]int64{
		"0":           1,
		"-0":          1, // PostgreSQL prints -0 as 0
		"-0.0":        3,
		"42":          2,
		"-17":         3,
		"2.50":        4,
		"1e2":         3, // 100
		"1.5e-3":      6, // 0.0015
		"100e-2":      4, // 1.00
		"12.34e1":     5, // 123.4
		"0e-3":        5, // 0.000
		"0.00e1":      3, // 0.0
		"1E+400":      401,
		"1e131071":    131072,
		"-1e-131071":  131074,
		"1e39":        40,
		"1e-38":       40,
		"-1e-37":      40,
		"0e999999999": 1,
		// Exponents PostgreSQL refuses to read count as unbounded.
		"1e999999999999":                  textLenUnbounded,
		"0e1073741823":                    textLenUnbounded,
		"1e-" + strings.Repeat("9", 1000): textLenUnbounded,
	} {
		if got := NumberTextLen([]byte(num)); got != want {
			t.Errorf("NumberTextLen(%.40s) = %d, want %d", num, got, want)
		}
	}
}

// An attacker's exponent costs neither memory nor time: the length is
// counted, never printed.
func TestNumberTextLenDoesNotExpand(t *testing.T) {
	huge := []byte("-1." + strings.Repeat("5", 30000) + "e" + strings.Repeat("9", 30000))
	v := []byte(`{"a":[` + strings.Repeat(`1e999999999,`, 5000) + `{"b":-1e-131071}]}`)
	allocs := testing.AllocsPerRun(10, func() {
		if NumberTextLen(huge) != textLenUnbounded {
			t.Error("NumberTextLen(huge) is not unbounded")
		}
		// 1e999999999 is a 1 and 999,999,999 zeros.
		if longestNumber(v) != 1_000_000_000 || PrintedSize(v) < 5000*999_999_999 {
			t.Errorf("longestNumber = %d, PrintedSize = %d", longestNumber(v), PrintedSize(v))
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want none", allocs)
	}
}

func TestPrintedSize(t *testing.T) {
	for b, want := range map[string]int64{
		`{}`:                            2,
		`{"a":1e2}`:                     9,  // 100 is as long as 1e2
		`{"a":1e39}`:                    46, // 40 digits instead of 4
		`{"a":1.0e0}`:                   11, // shorter when printed (1.0): counted as written
		`{"a":"1e39","b":[1e3,"\"e9"]}`: 30, // digits in strings are not numbers
		`{"a":[{"b":-1e-3}],"c":true}`:  29, // -0.001
	} {
		if got := PrintedSize([]byte(b)); got != want {
			t.Errorf("PrintedSize(%s) = %d, want %d", b, got, want)
		}
	}
}

func TestMergePreferencesRefusesLongNumbers(t *testing.T) {
	cur := Preferences{"keep": json.RawMessage(`"me"`)}
	patch := Preferences{"a": json.RawMessage(`[1,{"x":1e40}]`), "b": json.RawMessage(`1e39`), "c": json.RawMessage(`-1e-131071`)}
	_, err := MergePreferences(cur, patch, MaxPreferenceBytes)
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != CodeValidation {
		t.Fatalf("err = %v, want %s", err, CodeValidation)
	}
	if diff := cmp.Diff(map[string]string{"a": numberTooLong, "c": numberTooLong}, ae.Fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	// Within the number bound, the size is still counted as printed: 1e39
	// is 4 bytes written and 40 printed.
	many := Preferences{}
	for i := range 2000 {
		many[fmt.Sprintf("k%04d", i)] = json.RawMessage(`1e39`)
	}
	if _, err := MergePreferences(nil, many, MaxPreferenceBytes); !errors.Is(err, ErrPreferencesTooLarge) {
		t.Errorf("2000 keys of 1e39 (26 KB written, 98 KB printed): err = %v, want ErrPreferencesTooLarge", err)
	}
}

// FuzzPrintedSize: no input panics the number measure, and it never
// counts less than the bytes it was given.
func FuzzPrintedSize(f *testing.F) {
	for _, s := range []string{`{"a":1e131071}`, `[-0.0e-0,"\"",1E+4]`, `"unterminated\`, `-`, `1e`, `.e-`, `{"a":[1,{"b":-1.5e-3}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if n := PrintedSize(b); n < int64(len(b)) {
			t.Errorf("PrintedSize(%q) = %d, below its %d bytes", b, n, len(b))
		}
		if n := NumberTextLen(b); n < 1 || n > textLenUnbounded {
			t.Errorf("NumberTextLen(%q) = %d", b, n)
		}
		_ = longestNumber(b)
	})
}
