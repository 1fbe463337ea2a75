package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"reflect"
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
	case isTimeout(err):
		return nil, &auth.Error{Code: CodeRequestTimeout, Message: "The request body did not arrive in time.", Err: err}
	case err != nil:
		return nil, &auth.Error{Code: auth.CodeInvalidRequest, Message: "The request body could not be read.", Err: err}
	case !utf8.Valid(body):
		return nil, auth.Errorf(auth.CodeInvalidRequest, "The request body is not valid UTF-8.")
	}
	return body, nil
}

// isTimeout reports whether a body read failed on the server's read
// deadline (http.Server's ReadTimeout) rather than a broken connection.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func tooLarge() error {
	return auth.Errorf(CodePayloadTooLarge, "The request body is larger than %d bytes.", MaxBodyBytes)
}

func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return auth.Errorf(auth.CodeInvalidRequest, "The request body is empty; a JSON object is required.")
	}
	if err := strictKeys(body, v); err != nil {
		return err
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

// strictKeys holds a body to what the OpenAPI document says
// (additionalProperties: false, exact names): encoding/json matches keys
// without regard to case and lets a repeated key win, so {"IS_ADMIN": true}
// would set is_admin and {"password": "a", "Password": "b"} would log in
// with "b". It refuses any object, at any depth, that repeats a key, and,
// when v points to a struct, a top-level key that is not exactly one of
// its JSON names. Malformed JSON is left for the decoder to report.
func strictKeys(body []byte, v any) error {
	names := fieldNames(v)
	dec := json.NewDecoder(bytes.NewReader(body))
	// Numbers as text: one too big for a float64 must not stop the scan.
	dec.UseNumber()
	type frame struct {
		object, wantKey bool
		keys            map[string]bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if key, ok := tok.(string); ok && top != nil && top.object && top.wantKey {
			if top.keys[key] {
				return auth.Errorf(auth.CodeInvalidRequest, "Field %q is given more than once.", truncateKey(key))
			}
			if len(stack) == 1 && names != nil && !names[key] {
				return auth.Errorf(auth.CodeInvalidRequest, "Unknown field %q.", truncateKey(key))
			}
			top.keys[key], top.wantKey = true, false
			continue
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, &frame{object: true, wantKey: true, keys: map[string]bool{}})
				continue
			case '[':
				stack = append(stack, &frame{})
				continue
			default:
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					return nil
				}
				top = stack[len(stack)-1]
			}
		}
		if top != nil && top.object {
			top.wantKey = true // a value ended: a key comes next
		}
	}
}

// fieldNames returns the JSON names of the struct v points to, or nil
// when v is not a pointer to a struct (a map takes any exact key).
func fieldNames(v any) map[string]bool {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	t = t.Elem()
	names := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names[name] = true
	}
	return names
}

// truncateKey keeps a client's key short enough to echo in an error.
func truncateKey(k string) string {
	if len(k) > 64 {
		k = strings.ToValidUTF8(k[:64], "")
	}
	return k
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
