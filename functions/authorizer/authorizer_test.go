package authorizer_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"authfn/functions/authorizer"
	"authfn/pkg/app"
	"authfn/pkg/auth"
	"authfn/pkg/testenv"
)

const (
	routeArn  = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/GET/orders"
	methodArn = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/orders"
	password  = "a-long-password"
)

// kind is one authorizer event API Gateway sends, built from
// aws-lambda-go's types as API Gateway fills them, and marshalled to JSON
// as the Lambda runtime hands it over.
type kind struct {
	name string
	// event wraps an Authorization header value ("" for none).
	event func(authorization string) json.RawMessage
	// decode reads the answer: allowed and the context.
	decode func(t *testing.T, out any) (bool, map[string]any)
}

func marshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

var kinds = []kind{
	{
		name: "HTTP API 2.0",
		event: func(authorization string) json.RawMessage {
			e := events.APIGatewayV2CustomAuthorizerV2Request{
				Version: "2.0", Type: "REQUEST", RouteArn: routeArn, RouteKey: "GET /orders",
				RawPath: "/orders", Headers: map[string]string{"accept": "application/json", "user-agent": "curl/8.5.0"},
				RequestContext: events.APIGatewayV2HTTPRequestContext{
					AccountID: "123456789012", APIID: "abcdef123", Stage: "$default", RequestID: "JKJaXmPLvHcESHA=",
					HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/orders", SourceIP: "203.0.113.7"},
				},
			}
			if authorization != "" {
				e.Headers["authorization"] = authorization
				e.IdentitySource = []string{authorization}
			}
			return marshal(e)
		},
		decode: func(t *testing.T, out any) (bool, map[string]any) {
			t.Helper()
			var r struct {
				IsAuthorized *bool          `json:"isAuthorized"`
				Context      map[string]any `json:"context"`
			}
			if err := json.Unmarshal(marshal(out), &r); err != nil || r.IsAuthorized == nil {
				t.Fatalf("answer %s is not a simple response (%v)", marshal(out), err)
			}
			return *r.IsAuthorized, r.Context
		},
	},
	{
		name: "REST TOKEN",
		event: func(authorization string) json.RawMessage {
			return marshal(events.APIGatewayCustomAuthorizerRequest{Type: "TOKEN", AuthorizationToken: authorization, MethodArn: methodArn})
		},
		decode: decodePolicy,
	},
	{
		name: "REST REQUEST",
		event: func(authorization string) json.RawMessage {
			e := events.APIGatewayCustomAuthorizerRequestTypeRequest{
				Type: "REQUEST", MethodArn: methodArn, Resource: "/orders", Path: "/orders", HTTPMethod: "GET",
				Headers:           map[string]string{"Accept": "application/json"},
				MultiValueHeaders: map[string][]string{"Accept": {"application/json"}},
				RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
					AccountID: "123456789012", APIID: "abcdef123", Stage: "prod", RequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
				},
			}
			if authorization != "" {
				e.Headers["Authorization"] = authorization
				e.MultiValueHeaders["Authorization"] = []string{authorization}
			}
			return marshal(e)
		},
		decode: decodePolicy,
	},
}

// decodePolicy reads a REST answer and checks its policy's shape: one
// statement on execute-api:Invoke for exactly the method asked about.
func decodePolicy(t *testing.T, out any) (bool, map[string]any) {
	t.Helper()
	var r struct {
		PrincipalID    string `json:"principalId"`
		PolicyDocument struct {
			Version   string
			Statement []struct {
				Action   []string
				Effect   string
				Resource []string
			}
		} `json:"policyDocument"`
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(marshal(out), &r); err != nil {
		t.Fatalf("answer %s: %v", marshal(out), err)
	}
	p := r.PolicyDocument
	if p.Version != "2012-10-17" || len(p.Statement) != 1 {
		t.Fatalf("policy %s: want version 2012-10-17 and one statement", marshal(out))
	}
	st := p.Statement[0]
	if len(st.Action) != 1 || st.Action[0] != "execute-api:Invoke" || len(st.Resource) != 1 || st.Resource[0] != methodArn {
		t.Fatalf("statement %+v: want execute-api:Invoke on %s", st, methodArn)
	}
	allowed := st.Effect == "Allow"
	if !allowed && st.Effect != "Deny" {
		t.Fatalf("effect %q, want Allow or Deny", st.Effect)
	}
	if allowed && (r.PrincipalID == "" || r.PrincipalID != r.Context["user_id"]) {
		t.Errorf("principalId %q, want the user id %v", r.PrincipalID, r.Context["user_id"])
	}
	if !allowed && r.PrincipalID != "anonymous" {
		t.Errorf("deny: principalId %q, want anonymous", r.PrincipalID)
	}
	return allowed, r.Context
}

// setup is a core on real PostgreSQL and Redis, a user logged in, and a
// handler on the core logging into a buffer.
type setup struct {
	env  *testenv.Env
	user auth.User
	pair auth.TokenPair
	logs *testenv.Buffer
	h    func(context.Context, json.RawMessage) (any, error)
}

func newSetup(t *testing.T, admin bool) *setup {
	t.Helper()
	env := testenv.New(t)
	env.CreateUser(t, "root", password, true) // the last admin is never alice
	u := env.CreateUser(t, "alice", password, admin)
	pair, err := env.Auth.Sessions.Login(context.Background(), "alice", password)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &setup{env: env, user: u, pair: pair, logs: logs, h: authorizer.Handler(logger, env.Auth.Sessions)}
}

// ask sends k's event with the Authorization value and returns the answer.
func (s *setup) ask(t *testing.T, k kind, authorization string) (bool, map[string]any) {
	t.Helper()
	out, err := s.h(context.Background(), k.event(authorization))
	if err != nil {
		t.Fatalf("%s: handler error %v, want an answer", k.name, err)
	}
	allowed, ctx := k.decode(t, out)
	if !allowed && ctx != nil {
		t.Errorf("%s: a deny carries context %v, want none", k.name, ctx)
	}
	return allowed, ctx
}

// wantAllowed checks an allow and its context against the session.
func (s *setup) wantAllowed(t *testing.T, k kind, authorization string, admin bool) {
	t.Helper()
	allowed, ctx := s.ask(t, k, authorization)
	if !allowed {
		t.Fatalf("%s: denied a live session's token; log:\n%s", k.name, s.logs)
	}
	want := map[string]any{"user_id": strconv.FormatInt(s.user.ID, 10), "username": "alice", "admin": admin, "session_id": s.pair.SessionID}
	if len(ctx) != len(want) {
		t.Errorf("%s: context %v, want exactly %v", k.name, ctx, want)
	}
	for key, v := range want {
		if ctx[key] != v {
			t.Errorf("%s: context[%s] = %#v, want %#v", k.name, key, ctx[key], v)
		}
	}
}

func (s *setup) wantDenied(t *testing.T, k kind, authorization, why string) {
	t.Helper()
	if allowed, _ := s.ask(t, k, authorization); allowed {
		t.Fatalf("%s: allowed %s", k.name, why)
	}
}

func TestAuthorizerAllowsALiveSession(t *testing.T) {
	s := newSetup(t, false)
	for _, k := range kinds {
		s.wantAllowed(t, k, "Bearer "+s.pair.AccessToken, false)
		// The scheme is case-insensitive (RFC 7235).
		s.wantAllowed(t, k, "bearer "+s.pair.AccessToken, false)
		s.wantAllowed(t, k, "BEARER "+s.pair.AccessToken, false)
	}
	// Every check touched the session: it is the same check as every route's.
	sessions, err := s.env.Auth.Sessions.MySessions(context.Background(), auth.Session{ID: s.pair.SessionID, UserID: s.user.ID})
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions = %v, %v; want the one", sessions, err)
	}
}

// TestAuthorizerReportsTheSessionsAdminFlag: admin is the session record's
// flag (auth.Session.Admin), which a demotion clears, and a demoted user
// is still let in, as a non-admin.
func TestAuthorizerReportsTheSessionsAdminFlag(t *testing.T) {
	s := newSetup(t, true)
	ctx := context.Background()
	sess, err := s.env.Auth.Sessions.Authenticate(ctx, s.pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		s.wantAllowed(t, k, "Bearer "+s.pair.AccessToken, sess.Admin)
	}
	no := false
	if _, err := s.env.Auth.Admin.UpdateUser(ctx, s.env.Actor(t), s.user.ID, auth.UserChange{IsAdmin: &no}); err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		s.wantAllowed(t, k, "Bearer "+s.pair.AccessToken, false)
	}
}

// fixed is a Verifier that knows one token: it proves how a session maps
// to each answer, admin included, whatever the stores fill in.
type fixed struct {
	token string
	sess  auth.Session
}

func (f fixed) Authenticate(_ context.Context, token string) (auth.Session, error) {
	if token != f.token {
		return auth.Session{}, auth.ErrInvalidToken
	}
	return f.sess, nil
}

func TestAuthorizerContextOfAnAdmin(t *testing.T) {
	v := fixed{token: "tok", sess: auth.Session{ID: "s_AAAAAAAAAAAAAAAAAAAAAA", UserID: 42, Username: "root", Admin: true}}
	h := authorizer.Handler(slog.New(slog.DiscardHandler), v)
	want := map[string]any{"user_id": "42", "username": "root", "admin": true, "session_id": "s_AAAAAAAAAAAAAAAAAAAAAA"}
	for _, k := range kinds {
		out, err := h(context.Background(), k.event("Bearer tok"))
		if err != nil {
			t.Fatal(err)
		}
		allowed, ctx := k.decode(t, out)
		if !allowed || len(ctx) != len(want) {
			t.Fatalf("%s: allowed %v, context %v; want allowed with %v", k.name, allowed, ctx, want)
		}
		for key, v := range want {
			if ctx[key] != v {
				t.Errorf("%s: context[%s] = %#v, want %#v", k.name, key, ctx[key], v)
			}
		}
	}
}

func TestAuthorizerDeniesAfterLogout(t *testing.T) {
	s := newSetup(t, false)
	sess, err := s.env.Auth.Sessions.Authenticate(context.Background(), s.pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.env.Auth.Sessions.Logout(context.Background(), sess, false); err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		s.wantDenied(t, k, "Bearer "+s.pair.AccessToken, "a logged-out token")
	}
	if !strings.Contains(s.logs.String(), "invalid or revoked token") {
		t.Errorf("log does not say why:\n%s", s.logs)
	}
}

func TestAuthorizerDeniesAfterAdminRevokesTheUsersSessions(t *testing.T) {
	s := newSetup(t, false)
	n, err := s.env.Auth.Admin.RevokeSessionsOfUser(context.Background(), s.env.Actor(t), s.user.ID)
	if err != nil || n != 1 {
		t.Fatalf("revoke = %d, %v; want 1", n, err)
	}
	for _, k := range kinds {
		s.wantDenied(t, k, "Bearer "+s.pair.AccessToken, "a token of a revoked session")
	}
}

func TestAuthorizerDeniesAfterDeactivation(t *testing.T) {
	s := newSetup(t, false)
	no := false
	if _, err := s.env.Auth.Admin.UpdateUser(context.Background(), s.env.Actor(t), s.user.ID, auth.UserChange{IsActive: &no}); err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		s.wantDenied(t, k, "Bearer "+s.pair.AccessToken, "a deactivated user's token")
	}
}

// counting counts the calls that reach the verifier.
type counting struct {
	authorizer.Verifier
	calls int
}

func (c *counting) Authenticate(ctx context.Context, token string) (auth.Session, error) {
	c.calls++
	return c.Verifier.Authenticate(ctx, token)
}

func TestAuthorizerDeniesBadTokens(t *testing.T) {
	s := newSetup(t, false)
	other := testenv.New(t) // another secret: a valid-looking token that is not ours
	other.CreateUser(t, "alice", password, false)
	foreign, err := other.Auth.Sessions.Login(context.Background(), "alice", password)
	if err != nil {
		t.Fatal(err)
	}
	tok := s.pair.AccessToken
	cases := []struct{ name, authorization string }{
		{"no header", ""},
		{"garbage", "Bearer not-a-jwt"},
		{"another signer's token", "Bearer " + foreign.AccessToken},
		{"the refresh token", "Bearer " + s.pair.RefreshToken},
		{"a tampered signature", "Bearer " + tok[:len(tok)-2] + flip(tok[len(tok)-2:])},
		{"no scheme", tok},
		{"Basic", "Basic " + tok},
		{"scheme only", "Bearer"},
		{"scheme and spaces", "Bearer   "},
		{"two tokens", "Bearer " + tok + " " + tok},
		{"a list", "Bearer " + tok + ",Bearer " + tok},
		{"oversized", "Bearer " + strings.Repeat("a", auth.MaxTokenBytes+1)},
	}
	for _, k := range kinds {
		for _, c := range cases {
			s.wantDenied(t, k, c.authorization, c.name)
		}
	}
	if strings.Contains(s.logs.String(), tok) || strings.Contains(s.logs.String(), foreign.AccessToken) {
		t.Error("a token appears in the log")
	}

	// Oversized tokens are refused before anything parses them.
	cv := &counting{Verifier: s.env.Auth.Sessions}
	h := authorizer.Handler(slog.New(slog.DiscardHandler), cv)
	for _, k := range kinds {
		if _, err := h(context.Background(), k.event("Bearer "+strings.Repeat("a", auth.MaxTokenBytes+1))); err != nil {
			t.Fatal(err)
		}
		if _, err := h(context.Background(), k.event("Basic abc")); err != nil {
			t.Fatal(err)
		}
	}
	if cv.calls != 0 {
		t.Errorf("the verifier was called %d times for oversized and non-Bearer credentials, want 0", cv.calls)
	}
}

func flip(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}

// TestAuthorizerRESTRequestHeaders: a REST REQUEST event carries the
// header in the case the client wrote; two Authorization headers are a
// doubt and deny.
func TestAuthorizerRESTRequestHeaders(t *testing.T) {
	s := newSetup(t, false)
	event := func(headers map[string]string, multi map[string][]string) json.RawMessage {
		return marshal(events.APIGatewayCustomAuthorizerRequestTypeRequest{
			Type: "REQUEST", MethodArn: methodArn, Headers: headers, MultiValueHeaders: multi,
		})
	}
	bearer := "Bearer " + s.pair.AccessToken
	cases := []struct {
		name    string
		event   json.RawMessage
		allowed bool
	}{
		{"lower case", event(map[string]string{"authorization": bearer}, nil), true},
		{"odd case", event(map[string]string{"AuThOrIzAtIoN": bearer}, map[string][]string{"AuThOrIzAtIoN": {bearer}}), true},
		{"two in the multi-value map", event(map[string]string{"Authorization": bearer}, map[string][]string{"Authorization": {bearer, "Bearer x"}}), false},
		{"two spellings", event(map[string]string{"Authorization": bearer, "authorization": "Bearer x"}, nil), false},
	}
	for _, c := range cases {
		out, err := s.h(context.Background(), c.event)
		if err != nil {
			t.Fatal(err)
		}
		if allowed, _ := decodePolicy(t, out); allowed != c.allowed {
			t.Errorf("%s: allowed = %v, want %v", c.name, allowed, c.allowed)
		}
	}
}

func TestAuthorizerDeniesWithRedisDown(t *testing.T) {
	s := newSetup(t, false)
	down := s.env.Down(t, "redis")
	logs := &testenv.Buffer{}
	h := authorizer.Handler(slog.New(slog.NewJSONHandler(logs, nil)), down.Auth.Sessions)
	for _, k := range kinds {
		start := time.Now()
		out, err := h(context.Background(), k.event("Bearer "+s.pair.AccessToken))
		if err != nil {
			t.Fatalf("%s: %v, want a deny", k.name, err)
		}
		if allowed, _ := k.decode(t, out); allowed {
			t.Fatalf("%s: allowed with the session store down", k.name)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: deny took %v, want it within the store timeout", k.name, d)
		}
	}
	out := logs.String()
	if !strings.Contains(out, `"level":"ERROR"`) || !strings.Contains(out, "unavailable") {
		t.Errorf("log does not say the store is down, at error:\n%s", out)
	}
	if strings.Contains(out, s.pair.AccessToken) {
		t.Error("the token appears in the log")
	}
	// The session lives on: the outage denied, it revoked nothing.
	s.wantAllowed(t, kinds[0], "Bearer "+s.pair.AccessToken, false)
}

func TestAuthorizerRefusesUnknownEvents(t *testing.T) {
	s := newSetup(t, false)
	bearer := "Bearer " + s.pair.AccessToken
	for _, raw := range []string{
		``, `null`, `[]`, `"x"`, `{}`, `{"foo":1}`,
		`{"Records":[{"eventSource":"aws:sqs","body":"x"}]}`,
		// An HTTP API request event (a route's integration, not an authorizer).
		`{"version":"2.0","routeKey":"GET /orders","rawPath":"/orders","headers":{"authorization":"` + bearer + `"},"requestContext":{"http":{"method":"GET"}}}`,
		// 2.0 without a route ARN, a TOKEN without a method ARN.
		`{"version":"2.0","type":"REQUEST","headers":{"authorization":"` + bearer + `"}}`,
		`{"type":"TOKEN","authorizationToken":"` + bearer + `"}`,
		`{"type":"REQUEST","headers":{"Authorization":"` + bearer + `"}}`,
		`{"type":"OTHER","methodArn":"` + methodArn + `","authorizationToken":"` + bearer + `"}`,
		// Wrong types where the shape matches.
		`{"version":"2.0","type":"REQUEST","routeArn":"` + routeArn + `","headers":["` + bearer + `"]}`,
	} {
		out, err := s.h(context.Background(), json.RawMessage(raw))
		if err == nil {
			t.Errorf("event %s: answer %s, want an error", raw, marshal(out))
		}
	}
}

// TestAuthorizerOnOpenVerifier: the bootstrap's wiring, app.OpenVerifier,
// needs no DATABASE_URL and shares sessions with the service through the
// same Redis prefix and secret.
func TestAuthorizerOnOpenVerifier(t *testing.T) {
	s := newSetup(t, false)
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		redisURL = testenv.DefaultRedisURL
	}
	env := map[string]string{
		"REDIS_URL":        redisURL,
		"REDIS_KEY_PREFIX": s.env.RedisPrefix,
		"JWT_SECRET":       string(s.env.Config.JWTSecret),
	}
	v, err := app.OpenVerifier(context.Background(), func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("OpenVerifier without DATABASE_URL: %v", err)
	}
	defer v.Close()
	s.h = authorizer.Handler(slog.New(slog.DiscardHandler), v.Auth.Sessions)
	for _, k := range kinds {
		s.wantAllowed(t, k, "Bearer "+s.pair.AccessToken, false)
	}
	// What needs PostgreSQL fails closed, as unavailable.
	if _, err := v.Auth.Sessions.Me(context.Background(), auth.Session{UserID: s.user.ID}); auth.ErrorCode(err) != auth.CodeUnavailable {
		t.Errorf("User on the verifier: %v, want unavailable (it has no PostgreSQL)", err)
	}
	sess, err := s.env.Auth.Sessions.Authenticate(context.Background(), s.pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.env.Auth.Sessions.Logout(context.Background(), sess, false); err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		s.wantDenied(t, k, "Bearer "+s.pair.AccessToken, "a logged-out token")
	}

	delete(env, "REDIS_URL")
	if _, err := app.OpenVerifier(context.Background(), func(k string) string { return env[k] }); err == nil {
		t.Error("OpenVerifier without REDIS_URL: no error")
	}
}
