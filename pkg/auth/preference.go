package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
)

// MaxPreferenceBytes bounds one user's preferences, measured as the size of
// their JSON object as GET /preferences returns it (see PrintedSize).
const MaxPreferenceBytes = 64 << 10

// MaxPreferenceNumberChars bounds a number in a preference value, counted
// as PostgreSQL prints it: written out in full, with no exponent (see
// NumberTextLen). PostgreSQL's jsonb keeps numbers as numeric and prints
// 1e131071 as 131,072 digits, so without a bound a 16 KB request made
// every later read hundreds of megabytes. 40 holds every 64-bit integer
// (20 characters), every double that JavaScript writes without an exponent
// (1e-7 to 1e21, at most 26 characters) and every power of ten from 1e-38
// to 1e39; clients that need more digits than a double holds lose them
// anyway and can store a string.
const MaxPreferenceNumberChars = 40

// Preferences are a user's key/value settings. Values are any JSON.
type Preferences map[string]json.RawMessage

// PreferenceStore keeps per-user preferences.
type PreferenceStore interface {
	// Preferences returns a user's preferences; an empty map if none are set.
	Preferences(ctx context.Context, userID int64) (Preferences, error)
	// UpdatePreferences merges patch into the stored preferences in one
	// transaction (a JSON null value deletes that key) using MergePreferences,
	// and returns the result. Returns ErrNotFound for an unknown user and
	// ErrPreferencesTooLarge when the result exceeds max bytes (nothing is written).
	UpdatePreferences(ctx context.Context, userID int64, patch Preferences, max int) (Preferences, error)
}

// MergePreferences returns cur with patch applied: a JSON null deletes the
// key, any other value replaces it. cur is not modified. It returns
// CodeInvalidRequest for a value that is not JSON, CodeValidation naming
// each key of patch whose value holds a number over
// MaxPreferenceNumberChars, and ErrPreferencesTooLarge when the result's
// PrintedSize is over max bytes. Stores call it inside their transaction
// so that every implementation merges, and refuses, the same way.
func MergePreferences(cur, patch Preferences, max int) (Preferences, error) {
	out := make(Preferences, len(cur)+len(patch))
	for k, v := range cur {
		out[k] = v
	}
	for k, v := range patch {
		if isJSONNull(v) {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, &Error{Code: CodeInvalidRequest, Message: "Preference values must be valid JSON.", Err: err}
	}
	fields := map[string]string{}
	for k, v := range patch {
		if longestNumber(v) > MaxPreferenceNumberChars {
			fields[k] = numberTooLong
		}
	}
	if len(fields) > 0 {
		return nil, &Error{Code: CodeValidation, Message: "Some preferences are not acceptable.", Fields: fields}
	}
	if PrintedSize(b) > int64(max) {
		return nil, ErrPreferencesTooLarge
	}
	return out, nil
}

const numberTooLong = "numbers may be at most 40 characters written out in full (no exponent)"

// PrintedSize is the size MaxPreferenceBytes bounds: that of the compact
// JSON b (as encoding/json writes it) with each number counted at the
// longer of its written form and its NumberTextLen. What GET returns is
// never larger: SQLite returns the numbers as written, PostgreSQL as
// numeric prints them; the spaces jsonb's text adds after , and : are
// compacted away when the response is encoded; PostgreSQL prints a string
// with the fewest escapes, never more than encoding/json wrote; and key
// order does not change the size. (The jsonb text the service reads is at
// most twice PrintedSize: one space per , or :.)
func PrintedSize(b []byte) int64 {
	size := int64(len(b))
	numbers(b, func(num []byte) {
		size += max(NumberTextLen(num)-int64(len(num)), 0)
	})
	return size
}

// longestNumber is the longest NumberTextLen of the numbers in v.
func longestNumber(v []byte) int64 {
	var n int64
	numbers(v, func(num []byte) { n = max(n, NumberTextLen(num)) })
	return n
}

// numbers calls f with each number of the JSON text v, at any depth, in
// one pass that allocates nothing. For text that is not JSON it still
// ends, having called f with whatever looked like a number.
func numbers(v []byte, f func(num []byte)) {
	for i := 0; i < len(v); {
		switch c := v[i]; {
		case c == '"':
			for i++; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' {
					i++
				}
			}
			i++
		case c == '-' || isDigit(c):
			j := i + 1
			for j < len(v) && (isDigit(v[j]) || strings.IndexByte("+-.eE", v[j]) >= 0) {
				j++
			}
			f(v[i:j])
			i = j
		default:
			i++
		}
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// textLenUnbounded is what NumberTextLen answers for a number too long to
// count: one with an exponent PostgreSQL refuses to read (at or beyond
// ±(2^31-1)/2), or a length beyond it. It is far over any bound, and
// adding up one per byte of a request cannot overflow an int64.
const textLenUnbounded = 1 << 31

// NumberTextLen is the length of the text PostgreSQL's numeric type (which
// jsonb uses) prints for the JSON number num: a minus sign unless the
// value is zero, every digit of the integer part ("0" when there is
// none), and a point and the fraction when the scale is not zero, the
// scale being the digits written after the point less the exponent. So
// 1e2 prints as 100, 1.5e-3 as 0.0015, 100e-2 as 1.00 and -0.0 as 0.0.
// It works from the digits and the exponent without expanding the number,
// in time linear in len(num), whatever the exponent. num must be a JSON
// number; anything else gives some length and no panic.
func NumberTextLen(num []byte) int64 {
	i, neg := 0, false
	if i < len(num) && num[i] == '-' {
		neg, i = true, i+1
	}
	// lead is the power of ten of the first digit that is not zero, when
	// there is one; the exponent shifts it below.
	var lead int64
	nonzero := false
	start := i
	for i < len(num) && isDigit(num[i]) {
		i++
	}
	for k := start; k < i; k++ {
		if num[k] != '0' {
			lead, nonzero = int64(i-1-k), true
			break
		}
	}
	var frac int64
	if i < len(num) && num[i] == '.' {
		for i++; i < len(num) && isDigit(num[i]); i++ {
			frac++
			if !nonzero && num[i] != '0' {
				lead, nonzero = -frac, true
			}
		}
	}
	var exp int64
	if i < len(num) && (num[i] == 'e' || num[i] == 'E') {
		i++
		expNeg := false
		if i < len(num) && (num[i] == '+' || num[i] == '-') {
			expNeg, i = num[i] == '-', i+1
		}
		for ; i < len(num) && isDigit(num[i]); i++ {
			if exp < textLenUnbounded { // saturate: the rest cannot matter
				exp = exp*10 + int64(num[i]-'0')
			}
		}
		if exp >= (1<<31-1)/2 {
			return textLenUnbounded
		}
		if expNeg {
			exp = -exp
		}
	}
	n := int64(1) // the integer part is "0" when the value is below 1
	if nonzero && lead+exp >= 0 {
		n = lead + exp + 1
	}
	if nonzero && neg {
		n++
	}
	if scale := frac - exp; scale > 0 {
		n += 1 + scale
	}
	return min(n, textLenUnbounded)
}

func isJSONNull(v json.RawMessage) bool {
	return v == nil || string(bytes.TrimSpace(v)) == "null"
}

// preferenceKey is docs/api.md's key rule.
var preferenceKey = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Preferences returns the caller's preferences.
func (s *Prefs) Preferences(ctx context.Context, sess Session) (Preferences, error) {
	return s.prefs.Preferences(ctx, sess.UserID)
}

// UpdatePreferences merges patch into the caller's preferences (a null
// value deletes its key) and returns them all. Nothing is written unless
// every key is valid and the result fits MaxPreferenceBytes. Returns
// CodeValidation for a bad key, a value holding a NUL character (which
// PostgreSQL's JSONB cannot store) or a number longer than
// MaxPreferenceNumberChars (checked here too, so that one answer names
// every bad key before the store is asked), or a result that is too large.
func (s *Prefs) UpdatePreferences(ctx context.Context, sess Session, patch Preferences) (Preferences, error) {
	fields := map[string]string{}
	for k, v := range patch {
		switch {
		case !preferenceKey.MatchString(k):
			fields[truncate(k, 64)] = "keys are 1-64 characters of letters, digits and _ . -"
		case hasNUL(v):
			fields[k] = "must not contain the NUL character"
		case longestNumber(v) > MaxPreferenceNumberChars:
			fields[k] = numberTooLong
		}
	}
	if len(fields) > 0 {
		return nil, &Error{Code: CodeValidation, Message: "Some preferences are not acceptable.", Fields: fields}
	}
	return s.prefs.UpdatePreferences(ctx, sess.UserID, patch, MaxPreferenceBytes)
}

// hasNUL reports whether a JSON value holds U+0000 in any string or key.
// Only an escape can put one there, so values without one skip decoding.
func hasNUL(v json.RawMessage) bool {
	if !bytes.Contains(v, []byte(`\u0000`)) {
		return false
	}
	var x any
	if json.Unmarshal(v, &x) != nil {
		return false
	}
	var walk func(any) bool
	walk = func(x any) bool {
		switch t := x.(type) {
		case string:
			return strings.ContainsRune(t, 0)
		case []any:
			for _, e := range t {
				if walk(e) {
					return true
				}
			}
		case map[string]any:
			for k, e := range t {
				if strings.ContainsRune(k, 0) || walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(x)
}
