package web

import (
	"net/http"
	"strconv"

	"authfn/pkg/auth"
)

// Limit reads the ?limit= page size: absent means the default, anything
// but an integer is CodeValidation (the range is the core's to check).
func Limit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return auth.DefaultPageLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, &auth.Error{Code: auth.CodeValidation, Message: "limit must be an integer.", Fields: map[string]string{"limit": "must be an integer between 1 and 200"}}
	}
	return n, nil
}

// PathID reads a positive integer id from the path. Anything else names
// no resource, so it is CodeNotFound rather than a validation error.
func PathID(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	// One spelling per id: no sign, no leading zeros ("+5", "05" name nothing).
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 || v != strconv.FormatInt(id, 10) {
		return 0, auth.Errorf(auth.CodeNotFound, "No such %s.", name)
	}
	return id, nil
}

// Cursor returns what a page's next_cursor is in JSON: null on the last page.
func Cursor(next string) *string {
	if next == "" {
		return nil
	}
	return &next
}
