package sqlstore

import (
	"encoding/json"
	"fmt"

	"authfn/pkg/auth"
)

// EncodeDetails gives the JSON stored in an audit event's details column;
// nil or empty details are the empty object, so the column is never NULL.
// Returns a plain error (CodeInternal) for a value JSON cannot hold.
func EncodeDetails(d map[string]any) (string, error) {
	if len(d) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("encode details: %w", err)
	}
	return string(b), nil
}

// DecodeDetails reads a details column. It gives nil for an empty object,
// so an event recorded without details reads back as it was written.
// Returns a plain error (CodeInternal) for a column that is not a JSON object.
func DecodeDetails(b []byte) (map[string]any, error) {
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decode details: %w", err)
	}
	if len(d) == 0 {
		return nil, nil
	}
	return d, nil
}

// DecodePreferences reads a stored preferences object; nil (no row yet) is
// the empty, non-nil map the core expects. Returns a plain error
// (CodeInternal) for a column that is not a JSON object.
func DecodePreferences(data []byte) (auth.Preferences, error) {
	p := auth.Preferences{}
	if data == nil {
		return p, nil
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("decode preferences: %w", err)
	}
	return p, nil
}

// MergePreferences merges patch into the stored object data (nil when the
// user has none yet) with auth.MergePreferences and returns the result and
// the JSON to store. The caller holds whatever lock makes the read and the
// write one step. Returns ErrPreferencesTooLarge (CodeValidation) when the
// result would exceed max bytes as read back, CodeValidation for a number
// too long written out, CodeInvalidRequest for a value that is not JSON, a
// plain error (CodeInternal) for a stored value that is not a JSON object.
func MergePreferences(data []byte, patch auth.Preferences, max int) (auth.Preferences, string, error) {
	cur, err := DecodePreferences(data)
	if err != nil {
		return nil, "", err
	}
	out, err := auth.MergePreferences(cur, patch, max)
	if err != nil {
		return nil, "", err
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, "", err
	}
	return out, string(b), nil
}
