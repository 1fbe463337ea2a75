package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
)

// MaxPreferenceBytes bounds one user's preferences, measured as the size of
// their JSON object.
const MaxPreferenceBytes = 64 << 10

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
// ErrPreferencesTooLarge when the result, encoded as one JSON object, is
// larger than max bytes. Stores call it inside their transaction so that
// every implementation merges the same way.
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
	if len(b) > max {
		return nil, ErrPreferencesTooLarge
	}
	return out, nil
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
// PostgreSQL's JSONB cannot store) or a result that is too large.
func (s *Prefs) UpdatePreferences(ctx context.Context, sess Session, patch Preferences) (Preferences, error) {
	fields := map[string]string{}
	for k, v := range patch {
		switch {
		case !preferenceKey.MatchString(k):
			fields[truncate(k, 64)] = "keys are 1-64 characters of letters, digits and _ . -"
		case hasNUL(v):
			fields[k] = "must not contain the NUL character"
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
