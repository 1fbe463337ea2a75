package auth

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Page bounds of every listing (docs/api.md: limit 1-200, default 50).
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 200
)

// StorePageLimit is the page size a store uses for a query's limit n:
// DefaultPageLimit for n ≤ 0, at most 1000. The core checks limits
// against docs/api.md before they get here; stores clamp again so that no
// caller, however wrong, can make one query unbounded.
func StorePageLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultPageLimit
	case n > 1000:
		return 1000
	}
	return n
}

// checkLimit returns CodeValidation for a page size outside 1..MaxPageLimit.
func checkLimit(limit int) error {
	if msg := limitRule(limit); msg != "" {
		return &Error{Code: CodeValidation, Message: "The page size is out of range.", Fields: map[string]string{"limit": msg}}
	}
	return nil
}

// limitRule returns the field message for a page size outside
// 1..MaxPageLimit, or "".
func limitRule(limit int) string {
	if limit < 1 || limit > MaxPageLimit {
		return fmt.Sprintf("must be between 1 and %d", MaxPageLimit)
	}
	return ""
}

// ID cursors are opaque to clients: base64url of "u:<id>", so that a
// client is not tempted to build one and the format may change.
func encodeIDCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("u:" + strconv.FormatInt(id, 10)))
}

func decodeIDCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	bad := &Error{Code: CodeInvalidRequest, Message: "The cursor is not one this service issued."}
	if len(c) > 64 {
		return 0, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(raw), "u:") {
		return 0, bad
	}
	id, err := strconv.ParseInt(string(raw[2:]), 10, 64)
	if err != nil || id < 0 {
		return 0, bad
	}
	return id, nil
}
