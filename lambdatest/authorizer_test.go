//go:build lambdatest

package lambdatest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"authfn/pkg/testenv"
)

// The API Gateway ARNs of another stack's API that the authorizer guards.
const (
	guardedRouteArn  = "arn:aws:execute-api:us-east-1:123456789012:kx7pq2m9zd/$default/GET/orders"
	guardedMethodArn = "arn:aws:execute-api:us-east-1:123456789012:kx7pq2m9zd/prod/GET/orders"
)

// authorizerKind is one authorizer event shape API Gateway sends.
type authorizerKind struct {
	name string
	// event wraps an Authorization header value ("" for none).
	event func(authorization string) map[string]any
}

// authorizerKinds: an HTTP API authorizer (payload 2.0, simple responses,
// identity source $request.header.Authorization), a REST TOKEN authorizer
// and a REST REQUEST authorizer, field names and all as AWS documents them.
var authorizerKinds = []authorizerKind{
	{name: "HTTP API 2.0", event: httpAPIAuthorizerEvent},
	{name: "REST TOKEN", event: func(authorization string) map[string]any {
		return map[string]any{"type": "TOKEN", "authorizationToken": authorization, "methodArn": guardedMethodArn}
	}},
	{name: "REST REQUEST", event: restRequestAuthorizerEvent},
}

func httpAPIAuthorizerEvent(authorization string) map[string]any {
	now := time.Now()
	h := map[string]string{
		"accept": "application/json", "user-agent": userAgent, "host": "kx7pq2m9zd.execute-api.us-east-1.amazonaws.com",
		"x-amzn-trace-id": traceID(now), "x-forwarded-for": "198.51.100.2", "x-forwarded-port": "443", "x-forwarded-proto": "https",
	}
	var identity []string
	if authorization != "" {
		h["authorization"] = authorization
		identity = []string{authorization}
	}
	return map[string]any{
		"version":        "2.0",
		"type":           "REQUEST",
		"routeArn":       guardedRouteArn,
		"identitySource": identity,
		"routeKey":       "GET /orders",
		"rawPath":        "/orders",
		"rawQueryString": "",
		"headers":        h,
		"requestContext": map[string]any{
			"accountId": "123456789012", "apiId": "kx7pq2m9zd",
			"domainName": "kx7pq2m9zd.execute-api.us-east-1.amazonaws.com", "domainPrefix": "kx7pq2m9zd",
			"http": map[string]any{
				"method": "GET", "path": "/orders", "protocol": "HTTP/1.1", "sourceIp": "198.51.100.2", "userAgent": userAgent,
			},
			"requestId": "JKJaXmPLvHcESHA=", "routeKey": "GET /orders", "stage": "$default",
			"time": now.UTC().Format("02/Jan/2006:15:04:05 -0700"), "timeEpoch": now.UnixMilli(),
		},
		"pathParameters": map[string]string{},
		"stageVariables": map[string]string{},
	}
}

func restRequestAuthorizerEvent(authorization string) map[string]any {
	h := map[string]string{"Accept": "application/json", "Host": "kx7pq2m9zd.execute-api.us-east-1.amazonaws.com", "User-Agent": userAgent}
	if authorization != "" {
		h["Authorization"] = authorization
	}
	multi := map[string][]string{}
	for k, v := range h {
		multi[k] = []string{v}
	}
	return map[string]any{
		"type":                            "REQUEST",
		"methodArn":                       guardedMethodArn,
		"resource":                        "/orders",
		"path":                            "/orders",
		"httpMethod":                      "GET",
		"headers":                         h,
		"multiValueHeaders":               multi,
		"queryStringParameters":           map[string]string{},
		"multiValueQueryStringParameters": map[string][]string{},
		"pathParameters":                  map[string]string{},
		"stageVariables":                  map[string]string{},
		"requestContext": map[string]any{
			"path": "/prod/orders", "accountId": "123456789012", "resourceId": "a1b2c3", "stage": "prod",
			"requestId": uuid(), "resourcePath": "/orders", "httpMethod": "GET", "apiId": "kx7pq2m9zd",
			"identity": map[string]any{"sourceIp": "198.51.100.1", "userAgent": userAgent, "apiKey": "", "accountId": nil},
		},
	}
}

// authorization is an authorizer's answer, whichever shape it has.
type authorization struct {
	allowed bool
	context map[string]any
}

// authorize invokes the authorizer with k's event and decodes the answer,
// checking what each shape must hold.
func authorize(t *testing.T, fn *function, k authorizerKind, header string) authorization {
	t.Helper()
	raw := fn.invoke(t, k.event(header))
	if k.name == "HTTP API 2.0" {
		var r struct {
			IsAuthorized *bool          `json:"isAuthorized"`
			Context      map[string]any `json:"context"`
		}
		if err := json.Unmarshal(raw, &r); err != nil || r.IsAuthorized == nil {
			t.Fatalf("%s: answer %s is not a simple response (%v)", k.name, raw, err)
		}
		return authorization{*r.IsAuthorized, r.Context}
	}
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
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("%s: answer %s: %v", k.name, raw, err)
	}
	p := r.PolicyDocument
	if p.Version != "2012-10-17" || len(p.Statement) != 1 || len(p.Statement[0].Action) != 1 ||
		p.Statement[0].Action[0] != "execute-api:Invoke" || len(p.Statement[0].Resource) != 1 || p.Statement[0].Resource[0] != guardedMethodArn {
		t.Fatalf("%s: policy %s, want one statement on execute-api:Invoke for %s", k.name, raw, guardedMethodArn)
	}
	switch p.Statement[0].Effect {
	case "Allow":
		if r.PrincipalID == "" || r.PrincipalID != r.Context["user_id"] {
			t.Errorf("%s: principalId %q, want the user id %v", k.name, r.PrincipalID, r.Context["user_id"])
		}
		return authorization{true, r.Context}
	case "Deny":
		if r.PrincipalID != "anonymous" || r.Context != nil {
			t.Errorf("%s: deny %s, want principalId anonymous and no context", k.name, raw)
		}
		return authorization{false, r.Context}
	}
	t.Fatalf("%s: effect %q, want Allow or Deny", k.name, p.Statement[0].Effect)
	return authorization{}
}

// testAuthorizer drives the built authorizer, started without
// DATABASE_URL, against sessions made and ended through the other
// functions on the same Redis: allow with the context for a live session;
// deny after logout, after DELETE /sessions/{user_id}, for bad tokens; the
// admin flag false after a demotion; deny with Redis down.
func testAuthorizer(t *testing.T, fn map[string]*function, vars map[string]string, adminPassword string) {
	noDB := maps.Clone(vars)
	delete(noDB, "DATABASE_URL") // the authorizer never calls PostgreSQL
	authz := startFunction(t, "AuthorizerFunction", "authorizer", noDB)
	door := frontDoors[0]
	admin := login(t, fn["login"], door, adminPassword)

	// bob, an admin, whose rights and sessions the admin changes.
	const bobPassword = "bob-has-a-long-password"
	resp := fn["users"].do(t, door, request{method: "POST", path: "/api/auth/v2/users", bearer: admin.AccessToken,
		body: fmt.Sprintf(`{"username":"bob","password":%q,"is_admin":true}`, bobPassword)})
	resp.expect(t, "POST /users", http.StatusCreated)
	var bob user
	resp.decode(t, &bob)
	bobLogin := func() tokenPair {
		t.Helper()
		resp := fn["login"].do(t, door, request{method: "POST", path: "/api/auth/v2/login",
			body: fmt.Sprintf(`{"username":"bob","password":%q}`, bobPassword)})
		resp.expect(t, "POST /login as bob", http.StatusOK)
		var p tokenPair
		resp.decode(t, &p)
		return p
	}
	wantAllowed := func(what string, pair tokenPair) map[string]bool {
		t.Helper()
		admins := map[string]bool{}
		for _, k := range authorizerKinds {
			a := authorize(t, authz, k, "Bearer "+pair.AccessToken)
			if !a.allowed {
				t.Fatalf("%s: %s: denied a live session's token", what, k.name)
			}
			want := map[string]any{"user_id": strconv.FormatInt(bob.ID, 10), "username": "bob", "session_id": pair.SessionID}
			for key, v := range want {
				if a.context[key] != v {
					t.Errorf("%s: %s: context[%s] = %#v, want %#v", what, k.name, key, a.context[key], v)
				}
			}
			isAdmin, ok := a.context["admin"].(bool)
			if !ok || len(a.context) != 4 {
				t.Errorf("%s: %s: context %v, want user_id, username, session_id and admin as a boolean", what, k.name, a.context)
			}
			admins[k.name] = isAdmin
		}
		return admins
	}
	wantDenied := func(what, header string) {
		t.Helper()
		for _, k := range authorizerKinds {
			if authorize(t, authz, k, header).allowed {
				t.Errorf("%s: %s: allowed", what, k.name)
			}
		}
	}

	pair := bobLogin()
	// bob is an admin now; the flag reported is the session record's
	// (auth.Session.Admin), which the session store fills in.
	wantAllowed("live session", pair)
	resp = fn["users"].do(t, door, request{method: "PATCH", path: fmt.Sprintf("/api/auth/v2/users/%d", bob.ID), bearer: admin.AccessToken,
		body: `{"is_admin":false}`})
	resp.expect(t, "PATCH /users/{id} demote", http.StatusOK)
	for kind, isAdmin := range wantAllowed("after demotion", pair) {
		if isAdmin {
			t.Errorf("after demotion: %s: admin true, want false", kind)
		}
	}

	resp = fn["login"].do(t, door, request{method: "POST", path: "/api/auth/v2/logout", bearer: pair.AccessToken})
	resp.expect(t, "POST /logout", http.StatusOK)
	wantDenied("after logout", "Bearer "+pair.AccessToken)

	pair = bobLogin()
	wantAllowed("after a new login", pair)
	resp = fn["sessions"].do(t, door, request{method: "DELETE", path: fmt.Sprintf("/api/auth/v2/sessions/%d", bob.ID), bearer: admin.AccessToken})
	resp.expect(t, "DELETE /sessions/{user_id}", http.StatusOK)
	wantDenied("after DELETE /sessions/{user_id}", "Bearer "+pair.AccessToken)

	tok := admin.AccessToken
	for _, c := range []struct{ what, header string }{
		{"no Authorization header", ""},
		{"a garbage token", "Bearer not-a-jwt"},
		{"a tampered token", "Bearer " + tok[:len(tok)-4] + "AAAA"},
		{"the refresh token", "Bearer " + admin.RefreshToken},
		{"the Basic scheme", "Basic " + tok},
		{"an oversized token", "Bearer " + strings.Repeat("a", 8<<10+1)},
	} {
		wantDenied(c.what, c.header)
	}

	// Redis down: a live session is denied, and the log says why.
	pair = bobLogin()
	down := maps.Clone(noDB)
	down["REDIS_URL"] = "redis://" + testenv.DeadAddr
	down["STORE_TIMEOUT"] = "1s"
	dead := startFunction(t, "AuthorizerFunction", "authorizer", down)
	for _, k := range authorizerKinds {
		start := time.Now()
		if authorize(t, dead, k, "Bearer "+pair.AccessToken).allowed {
			t.Errorf("Redis down: %s: allowed", k.name)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Redis down: %s: the answer took %v, want it within the store timeout", k.name, d)
		}
	}
	if out := dead.output(); !strings.Contains(out, "token could not be checked") || !strings.Contains(out, `"level":"ERROR"`) {
		t.Errorf("Redis down: the authorizer's log does not say why at error:\n%s", out)
	}
	// The outage revoked nothing: the live authorizer still lets it in.
	wantAllowed("after the outage", pair)

	for _, e := range []*function{authz, dead} {
		out := e.output()
		for _, secret := range []string{admin.AccessToken, pair.AccessToken, admin.RefreshToken} {
			if strings.Contains(out, secret) {
				t.Errorf("%s: a token appears in the authorizer's output", e.name)
			}
		}
	}
}
