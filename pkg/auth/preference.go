package auth

import (
	"bytes"
	"context"
	"encoding/json"
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
