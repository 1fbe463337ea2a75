package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"authfn/pkg/auth"
)

// MaxBodyBytes bounds every request body (docs/api.md: over 64 KiB is 413).
const MaxBodyBytes = 64 << 10

// Validator is implemented by request types that check their own fields.
// Validate returns an *auth.Error with Fields (CodeValidation).
type Validator interface {
	Validate() error
}

// Decode reads a JSON request body into a T. It refuses a body that is
// not JSON (415), over MaxBodyBytes (413), not UTF-8, malformed, with an
// unknown field or a second value (400), or with a wrong-typed field
// (422), and then calls T's Validate if it has one.
func Decode[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	body, err := readBody(w, r, "application/json")
	if err != nil {
		return v, err
	}
	if err := decodeJSON(body, &v); err != nil {
		return v, err
	}
	if val, ok := any(&v).(Validator); ok {
		if err := val.Validate(); err != nil {
			return v, err
		}
	}
	return v, nil
}

// DecodeJSON is Decode for a body already read (used by handlers that
// accept more than one media type). It never calls Validate.
func DecodeJSON(body []byte, v any) error { return decodeJSON(body, v) }

// ReadBody returns the request body if its media type is one of types
// (none given: any), enforcing MaxBodyBytes and UTF-8.
func ReadBody(w http.ResponseWriter, r *http.Request, types ...string) ([]byte, error) {
	return readBody(w, r, types...)
}

// MediaType returns the request's media type, lower-cased, without parameters.
func MediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

func readBody(w http.ResponseWriter, r *http.Request, types ...string) ([]byte, error) {
	if len(types) > 0 {
		mt := MediaType(r)
		ok := false
		for _, t := range types {
			ok = ok || mt == t
		}
		if !ok {
			return nil, &auth.Error{Code: CodeUnsupportedMediaType, Message: fmt.Sprintf("Content-Type must be %s.", strings.Join(types, " or "))}
		}
	}
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge()
	case err != nil:
		return nil, &auth.Error{Code: auth.CodeInvalidRequest, Message: "The request body could not be read.", Err: err}
	case !utf8.Valid(body):
		return nil, auth.Errorf(auth.CodeInvalidRequest, "The request body is not valid UTF-8.")
	}
	return body, nil
}

func tooLarge() error {
	return auth.Errorf(CodePayloadTooLarge, "The request body is larger than %d bytes.", MaxBodyBytes)
}

func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return auth.Errorf(auth.CodeInvalidRequest, "The request body is empty; a JSON object is required.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return auth.Errorf(auth.CodeInvalidRequest, "The request body must hold exactly one JSON value.")
	}
	return nil
}

// jsonError turns a decoding error into a client-safe *auth.Error.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return &auth.Error{Code: auth.CodeInvalidRequest, Message: "The request body is not valid JSON.", Err: err}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return &auth.Error{Code: auth.CodeInvalidRequest, Message: fmt.Sprintf("The request body must be %s.", jsonKind(typ.Type.Kind().String())), Err: err}
		}
		return &auth.Error{Code: auth.CodeValidation, Message: "A field has the wrong type.",
			Fields: map[string]string{field: "must be " + jsonKind(typ.Type.Kind().String())}, Err: err}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return &auth.Error{Code: auth.CodeInvalidRequest, Message: fmt.Sprintf("Unknown field %s.", name), Err: err}
	}
	return &auth.Error{Code: auth.CodeInvalidRequest, Message: "The request body is not acceptable JSON.", Err: err}
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	}
	return "another type"
}

// Encode writes v as JSON with status. A failed write is logged, not
// returned: the status line is gone and nothing better can be sent.
func Encode(w http.ResponseWriter, r *http.Request, logger *slog.Logger, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		logger.DebugContext(r.Context(), "write response", "err", err)
	}
}
