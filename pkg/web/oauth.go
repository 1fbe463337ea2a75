package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"authfn/pkg/auth"
)

// CodeUnsupportedGrantType is the HTTP layer's code for a grant_type the
// token endpoint does not offer. It exists only in RFC 6749 answers
// (OAuthError); a problem document never carries it.
const CodeUnsupportedGrantType auth.Code = "unsupported_grant_type"

// RFC 6749 §5.2 error words, and the two the token endpoint adds for
// throttling and outages (RFC 6749 §4.1.2.1 defines temporarily_unavailable;
// too_many_requests is docs/api.md's).
const (
	OAuthInvalidRequest         = "invalid_request"
	OAuthInvalidGrant           = "invalid_grant"
	OAuthUnsupportedGrantType   = "unsupported_grant_type"
	OAuthTooManyRequests        = "too_many_requests"
	OAuthTemporarilyUnavailable = "temporarily_unavailable"
	OAuthServerError            = "server_error"
	// OAuthMFARequired answers a password grant whose password was right
	// for a user with MFA on (status 401, with mfa_token): the grant is
	// retried with the code, or the login finished at POST /login/mfa.
	OAuthMFARequired = "mfa_required"
)

// OAuthProblem is the body of every error of the standard OAuth2 endpoints
// (/token, /revoke): RFC 6749 §5.2 plus the request id that every response
// also carries in X-Request-Id.
type OAuthProblem struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	RequestID        string `json:"request_id"`
	MFAToken         string `json:"mfa_token,omitempty"` // with mfa_required
}

// invalidGrantDescription is the one description of every credential and
// refresh-token failure (docs/security.md 32): wrong password, unknown or
// deactivated user, and an unknown, expired, revoked, reused or
// concurrently rotated refresh token all read the same, byte for byte.
const invalidGrantDescription = "The credentials or the refresh token are invalid, expired or revoked."

// oauthAnswer maps a core code to an RFC 6749 error word and status.
// Everything about the shape of the request (its media type, size,
// encoding, fields) is invalid_request with status 400: RFC 6749 §5.2
// knows no 413 or 415, and OAuth2 clients read the error word, not the
// status.
func oauthAnswer(code auth.Code) (string, int) {
	switch code {
	case auth.CodeInvalidRequest, auth.CodeValidation, CodePayloadTooLarge, CodeUnsupportedMediaType, CodeMethodNotAllowed:
		return OAuthInvalidRequest, http.StatusBadRequest
	case CodeRequestTimeout:
		return OAuthInvalidRequest, http.StatusRequestTimeout
	case CodeUnsupportedGrantType:
		return OAuthUnsupportedGrantType, http.StatusBadRequest
	case auth.CodeInvalidCredentials, auth.CodeInvalidToken, auth.CodeTokenReused, auth.CodeRefreshConflict:
		return OAuthInvalidGrant, http.StatusBadRequest
	case auth.CodeRateLimited:
		return OAuthTooManyRequests, http.StatusTooManyRequests
	case auth.CodeMFARequired:
		return OAuthMFARequired, http.StatusUnauthorized
	case auth.CodeUnavailable:
		return OAuthTemporarilyUnavailable, http.StatusServiceUnavailable
	}
	return OAuthServerError, http.StatusInternalServerError
}

// OAuthError writes err as an RFC 6749 §5.2 error: Content-Type exactly
// application/json (OAuth2 libraries such as openid-client and
// oauth4webapi refuse anything else, problem+json included), never a
// WWW-Authenticate header (this service has no client authentication to
// challenge, and a Bearer challenge on a wrong password confuses those
// libraries), Retry-After on 429 and 503. Like Error, causes are logged
// (5xx) and never sent; every credential or refresh failure gets the same
// body.
func OAuthError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	ctx := r.Context()
	if ctx.Err() != nil && auth.ErrorCode(err) != CodeRequestTimeout {
		logger.DebugContext(ctx, "client gone", "err", err)
		w.WriteHeader(StatusClientClosed)
		return
	}
	var ae *auth.Error
	if !errors.As(err, &ae) {
		ae = &auth.Error{Code: auth.CodeInternal}
	}
	word, status := oauthAnswer(ae.Code)
	p := OAuthProblem{Error: word, ErrorDescription: ae.Message, RequestID: RequestID(ctx)}
	if word == OAuthMFARequired {
		p.MFAToken = ae.MFAToken
	}
	if p.RequestID == "" {
		p.RequestID = w.Header().Get("X-Request-Id")
	}
	h := w.Header()
	switch word {
	case OAuthInvalidGrant:
		p.ErrorDescription = invalidGrantDescription
	case OAuthServerError:
		p.ErrorDescription = internalDetail
		logger.ErrorContext(ctx, "internal error", "err", err)
	case OAuthTemporarilyUnavailable:
		p.ErrorDescription = unavailableDetail
		logger.WarnContext(ctx, "unavailable", "err", err)
		h.Set("Retry-After", "5")
	case OAuthTooManyRequests:
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(max(ae.RetryAfter.Seconds(), 1)))))
	}
	if p.ErrorDescription == "" {
		p.ErrorDescription = http.StatusText(status) + "."
	}
	p.ErrorDescription = oauthDescription(p.ErrorDescription)
	h.Del("WWW-Authenticate")
	h.Set("Content-Type", "application/json")
	h.Set("Pragma", "no-cache")
	h.Del("Content-Length")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(p); err != nil {
		logger.DebugContext(ctx, "write oauth error", "err", err)
	}
}

// oauthDescription keeps a description to the characters RFC 6749 §5.2
// allows in error_description (printable ASCII but the double quote and
// the backslash), so that strict clients accept it whatever message the
// core wrote.
func oauthDescription(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c == '"':
			b[i] = '\''
		case c == '\\', c < 0x20, c > 0x7e:
			b[i] = '?'
		}
	}
	return string(b)
}

// HandleOAuth is Handle for the standard OAuth2 endpoints: a returned
// error is answered by OAuthError instead of a problem document.
func HandleOAuth(logger *slog.Logger, fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			OAuthError(w, r, logger, err)
		}
	})
}
