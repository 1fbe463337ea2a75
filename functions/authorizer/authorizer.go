// Package authorizer is the Lambda authorizer of docs/api.md ("Verifying
// tokens for other services"): API Gateway calls it before a request
// reaches another service's integration, and it answers with the same
// check GET /verify makes. The token's signature is verified and its
// session looked up in one Redis round trip; PostgreSQL is never called
// (docs/security.md 33).
//
// It answers three event kinds, told apart by their shape:
//
//   - HTTP API authorizers, payload format 2.0 with simple responses:
//     {"isAuthorized": bool, "context": {...}}.
//   - REST API TOKEN authorizers (authorizationToken, methodArn) and REST
//     API REQUEST authorizers (headers, methodArn), and HTTP API
//     authorizers of payload format 1.0, which send the REQUEST shape: an
//     IAM policy allowing or denying execute-api:Invoke on the method ARN,
//     principalId the user id.
//
// The context of an allow holds user_id (the user id as a decimal string,
// as the token's sub: REST APIs turn every context value into a string
// anyway, so both kinds agree), username, admin (a boolean from the
// session record, the user's current flag) and session_id. A deny carries
// no context and principalId "anonymous".
//
// Any doubt denies (docs/security.md 33): no token, a malformed, expired
// or wrongly signed one, a revoked session, a session store that does not
// answer. An event of no known shape is an error, never an allow.
package authorizer

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"authfn/pkg/auth"
)

// Verifier checks an access token and its session. *auth.Service is one;
// the bootstrap's runs on Redis alone (app.OpenVerifier). It returns
// auth.ErrInvalidToken for a token or session that fails, and
// CodeUnavailable when the session store is down.
type Verifier interface {
	Authenticate(ctx context.Context, token string) (auth.Session, error)
}

// ErrUnsupportedEvent is returned for an event that is none of the
// authorizer events this function answers. API Gateway answers a failed
// authorizer with 500, so the request is not let through.
var ErrUnsupportedEvent = errors.New("authorizer: unsupported event: want an API Gateway HTTP API (2.0) or REST TOKEN/REQUEST authorizer event")

// anonymous is the principalId of a REST deny: API Gateway requires one.
const anonymous = "anonymous"

// shape is the part of every authorizer event that tells them apart.
type shape struct {
	Version   string `json:"version"`
	Type      string `json:"type"`
	RouteArn  string `json:"routeArn"`
	MethodArn string `json:"methodArn"`
}

// Handler returns the Lambda handler. It decodes the event by its shape,
// asks v about the bearer token, and answers in that event's response
// format. Denials are logged with their reason at warn (a refused token)
// or error (the session store down); the token itself never is.
func Handler(logger *slog.Logger, v Verifier) func(ctx context.Context, event json.RawMessage) (any, error) {
	h := handler{logger: logger, v: v}
	return func(ctx context.Context, event json.RawMessage) (any, error) {
		var s shape
		if err := json.Unmarshal(event, &s); err != nil {
			return nil, ErrUnsupportedEvent
		}
		switch {
		case s.Version == "2.0" && s.Type == "REQUEST" && s.RouteArn != "":
			var e events.APIGatewayV2CustomAuthorizerV2Request
			if err := json.Unmarshal(event, &e); err != nil {
				return nil, ErrUnsupportedEvent
			}
			return h.httpAPI(ctx, e), nil
		case s.Type == "TOKEN" && s.MethodArn != "":
			var e events.APIGatewayCustomAuthorizerRequest
			if err := json.Unmarshal(event, &e); err != nil {
				return nil, ErrUnsupportedEvent
			}
			return h.restToken(ctx, e), nil
		case s.Type == "REQUEST" && s.MethodArn != "" && s.RouteArn == "":
			var e events.APIGatewayCustomAuthorizerRequestTypeRequest
			if err := json.Unmarshal(event, &e); err != nil {
				return nil, ErrUnsupportedEvent
			}
			return h.restRequest(ctx, e), nil
		}
		return nil, ErrUnsupportedEvent
	}
}

type handler struct {
	logger *slog.Logger
	v      Verifier
}

// httpAPI answers an HTTP API 2.0 event with a simple response. The token
// is the Authorization header's; without one, the single identity source
// (which the route's authorizer may name as another header).
func (h handler) httpAPI(ctx context.Context, e events.APIGatewayV2CustomAuthorizerV2Request) events.APIGatewayV2CustomAuthorizerSimpleResponse {
	value, ok := header(e.Headers, nil)
	if !ok && len(e.IdentitySource) == 1 {
		value, ok = e.IdentitySource[0], true
	}
	sess, allowed := h.check(ctx, "http_api", e.RouteArn, value, ok)
	if !allowed {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: sessionContext(sess)}
}

// restToken answers a REST TOKEN event: the token is the identity
// source's value, as the client sent it ("Bearer ...").
func (h handler) restToken(ctx context.Context, e events.APIGatewayCustomAuthorizerRequest) events.APIGatewayCustomAuthorizerResponse {
	sess, allowed := h.check(ctx, "rest_token", e.MethodArn, e.AuthorizationToken, e.AuthorizationToken != "")
	return policy(e.MethodArn, sess, allowed)
}

// restRequest answers a REST REQUEST event (and an HTTP API 1.0 one) from
// its Authorization header, in whatever case it arrives.
func (h handler) restRequest(ctx context.Context, e events.APIGatewayCustomAuthorizerRequestTypeRequest) events.APIGatewayCustomAuthorizerResponse {
	value, ok := header(e.Headers, e.MultiValueHeaders)
	sess, allowed := h.check(ctx, "rest_request", e.MethodArn, value, ok)
	return policy(e.MethodArn, sess, allowed)
}

// check verifies the Authorization value and reports whether to allow.
// Every reason to deny is logged, never the value.
func (h handler) check(ctx context.Context, kind, arn, value string, present bool) (auth.Session, bool) {
	attrs := []any{"event", kind, "arn", arn}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		attrs = append(attrs, "request_id", lc.AwsRequestID)
	}
	deny := func(level slog.Level, reason string, more ...any) (auth.Session, bool) {
		h.logger.Log(ctx, level, "authorizer: denied", append(append(attrs, "reason", reason), more...)...)
		return auth.Session{}, false
	}
	if !present {
		return deny(slog.LevelWarn, "no Authorization header")
	}
	token, ok := bearer(value)
	if !ok {
		return deny(slog.LevelWarn, "not a Bearer credential")
	}
	if len(token) > auth.MaxTokenBytes {
		return deny(slog.LevelWarn, "token too long", "bytes", len(token))
	}
	sess, err := h.v.Authenticate(ctx, token)
	if err != nil {
		code := auth.ErrorCode(err)
		if code == auth.CodeInvalidToken {
			return deny(slog.LevelWarn, "invalid or revoked token", "code", code)
		}
		return deny(slog.LevelError, "token could not be checked", "code", code, "err", err)
	}
	if sess.UserID <= 0 || sess.ID == "" {
		return deny(slog.LevelError, "verifier returned no session")
	}
	return sess, true
}

// bearer returns the token of an RFC 6750 "Bearer <token>" credential; the
// scheme is case-insensitive, the token one run of non-space characters.
func bearer(value string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(value), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || strings.ContainsAny(token, " \t,") {
		return "", false
	}
	return token, true
}

// header finds the one Authorization header in any case. More than one
// (in either map) is a doubt, so it counts as none.
func header(single map[string]string, multi map[string][]string) (string, bool) {
	var found []string
	for k, vs := range multi {
		if strings.EqualFold(k, "Authorization") {
			found = append(found, vs...)
		}
	}
	if len(found) > 1 {
		return "", false
	}
	var value string
	n := 0
	for k, v := range single {
		if strings.EqualFold(k, "Authorization") {
			value = v
			n++
		}
	}
	switch {
	case n > 1:
		return "", false
	case n == 1:
		if len(found) == 1 && found[0] != value {
			return "", false
		}
		return value, true
	case len(found) == 1:
		return found[0], true
	}
	return "", false
}

// sessionContext is what an allow tells the integration behind it. API
// Gateway accepts only strings, numbers and booleans here.
func sessionContext(s auth.Session) map[string]any {
	return map[string]any{
		"user_id":    strconv.FormatInt(s.UserID, 10),
		"username":   s.Username,
		"admin":      s.Admin,
		"session_id": s.ID,
	}
}

// policy is a REST answer: allow or deny execute-api:Invoke on the
// method ARN API Gateway asked about.
func policy(methodArn string, s auth.Session, allowed bool) events.APIGatewayCustomAuthorizerResponse {
	r := events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: anonymous,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action: []string{"execute-api:Invoke"}, Effect: "Deny", Resource: []string{methodArn},
			}},
		},
	}
	if allowed {
		r.PrincipalID = strconv.FormatInt(s.UserID, 10)
		r.PolicyDocument.Statement[0].Effect = "Allow"
		r.Context = sessionContext(s)
	}
	return r
}
