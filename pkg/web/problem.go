// Package web holds what every endpoint group shares on the HTTP side:
// handlers that return errors, JSON decoding and encoding, RFC 9457 problem
// documents, request ids, client addresses and the middleware stack.
package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strconv"

	"authfn/pkg/auth"
)

// Codes that only the HTTP layer produces.
const (
	CodeMethodNotAllowed     auth.Code = "method_not_allowed"
	CodePayloadTooLarge      auth.Code = "payload_too_large"
	CodeRequestTimeout       auth.Code = "request_timeout"
	CodeUnsupportedMediaType auth.Code = "unsupported_media_type"
)

// statusOf is the one code→status map of docs/api.md.
var statusOf = map[auth.Code]int{
	auth.CodeInvalidRequest:     http.StatusBadRequest,
	auth.CodeInvalidCredentials: http.StatusUnauthorized,
	auth.CodeInvalidToken:       http.StatusUnauthorized,
	auth.CodeTokenReused:        http.StatusUnauthorized,
	auth.CodeForbidden:          http.StatusForbidden,
	auth.CodeNotFound:           http.StatusNotFound,
	CodeMethodNotAllowed:        http.StatusMethodNotAllowed,
	auth.CodeConflict:           http.StatusConflict,
	auth.CodeRefreshConflict:    http.StatusConflict,
	CodeRequestTimeout:          http.StatusRequestTimeout,
	CodePayloadTooLarge:         http.StatusRequestEntityTooLarge,
	CodeUnsupportedMediaType:    http.StatusUnsupportedMediaType,
	auth.CodeValidation:         http.StatusUnprocessableEntity,
	auth.CodeRateLimited:        http.StatusTooManyRequests,
	auth.CodeInternal:           http.StatusInternalServerError,
	auth.CodeUnavailable:        http.StatusServiceUnavailable,

	// Multi-factor authentication.
	auth.CodeMFARequired:           http.StatusUnauthorized,
	auth.CodeMFAEnrollmentRequired: http.StatusForbidden,
}

// Status returns the HTTP status of code (500 for an unknown one).
func Status(code auth.Code) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// StatusClientClosed is logged for a request whose client went away
// before the answer (nginx's 499); it is never seen by a client.
const StatusClientClosed = 499

// Problem is the RFC 9457 body of every error response.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail"`
	Code      auth.Code    `json:"code"`
	RequestID string       `json:"request_id"`
	Errors    []FieldError `json:"errors,omitempty"`
	MFAToken  string       `json:"mfa_token,omitempty"` // with mfa_required: the token of POST /login/mfa
}

// FieldError is one validation problem.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Generic details for the codes whose cause must never reach the client
// (docs/security.md 25: 5xx bodies are generic and carry the request id).
const (
	internalDetail    = "Internal error."
	unavailableDetail = "A backing store is unavailable; try again shortly."
)

// Error writes err as a problem document. Internal errors are logged with
// their cause and shown as "Internal error."; the cause of any error is
// never sent.
func Error(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	if r.Context().Err() != nil && auth.ErrorCode(err) != CodeRequestTimeout {
		// The client went away (or its deadline passed) and took the
		// request's context with it (a body that timed out also ends the
		// context, but that client is still there and gets its 408): whatever failed after that is not a
		// fault of ours or of a store, and nobody reads the answer.
		logger.DebugContext(r.Context(), "client gone", "err", err)
		w.WriteHeader(StatusClientClosed)
		return
	}
	var ae *auth.Error
	if !errors.As(err, &ae) {
		ae = &auth.Error{Code: auth.CodeInternal}
	}
	status := Status(ae.Code)
	p := Problem{
		Type: "about:blank", Title: http.StatusText(status), Status: status,
		Detail: ae.Message, Code: ae.Code, RequestID: RequestID(r.Context()),
	}
	if ae.Code == auth.CodeMFARequired {
		p.MFAToken = ae.MFAToken
	}
	if p.RequestID == "" {
		// A panic is recovered outside the middleware that put the id in
		// the context, but the id is already on the response.
		p.RequestID = w.Header().Get("X-Request-Id")
	}
	ctx := r.Context()
	switch {
	case ae.Code == auth.CodeInternal:
		p.Detail = internalDetail
		logger.ErrorContext(ctx, "internal error", "err", err)
	case ae.Code == auth.CodeUnavailable:
		// The core's messages are client-safe by contract; the cause (a
		// connection string, an address) stays in the log.
		if p.Detail == "" {
			p.Detail = unavailableDetail
		}
		logger.WarnContext(ctx, "unavailable", "err", err)
	}
	if p.Detail == "" {
		p.Detail = http.StatusText(status) + "."
	}
	for f, m := range ae.Fields {
		p.Errors = append(p.Errors, FieldError{Field: f, Message: m})
	}
	sort.Slice(p.Errors, func(i, j int) bool { return p.Errors[i].Field < p.Errors[j].Field })
	h := w.Header()
	switch ae.Code {
	case auth.CodeInvalidToken, auth.CodeTokenReused:
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	case auth.CodeInvalidCredentials, auth.CodeMFARequired:
		h.Set("WWW-Authenticate", `Bearer`)
	case auth.CodeRateLimited:
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(max(ae.RetryAfter.Seconds(), 1)))))
	case auth.CodeUnavailable:
		h.Set("Retry-After", "5")
	}
	h.Set("Content-Type", "application/problem+json")
	h.Del("Content-Length")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(p); err != nil {
		logger.DebugContext(ctx, "write problem", "err", err)
	}
}
