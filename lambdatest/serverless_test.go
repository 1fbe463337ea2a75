//go:build lambdatest

package lambdatest

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"authfn/pkg/postgres"
	"authfn/pkg/testenv"
)

// TestFunctions deploys the stack the way the template does, one emulator
// per function on one empty database and one Redis, and drives it as AWS
// would: the migrate function first, then logins through every front door,
// admin routes on other functions, preferences, health, the scheduled
// cleanup, and events no function serves.
func TestFunctions(t *testing.T) {
	_, prefix := testenv.Redis(t) // deletes the functions' keys when the test ends
	adminPassword := "lambdatest-" + hex.EncodeToString(randomBytes(8))
	vars := map[string]string{
		"DATABASE_URL":     testenv.EmptyPostgresURL(t),
		"REDIS_URL":        testenv.DefaultRedisURL,
		"REDIS_KEY_PREFIX": prefix,
		"JWT_SECRET":       base64.StdEncoding.EncodeToString(randomBytes(48)),
		"ADMIN_PASSWORD":   adminPassword,
		"BCRYPT_COST":      "10", // the lowest the service allows: logins stay fast
	}
	// As in template.yaml, MFA_KEY goes to the login function, the only
	// HTTP function that opens TOTP secrets, and to the migrate step.
	mfaKey := base64.StdEncoding.EncodeToString(randomBytes(32))
	fn := map[string]*function{}
	for _, f := range functions {
		env := vars
		switch f.group {
		case "migrate":
			// The migration step opens PostgreSQL only: it must run with
			// the database, the admin settings and the MFA key (which it
			// checks) and nothing else.
			env = map[string]string{"MFA_KEY": mfaKey}
			for _, k := range []string{"DATABASE_URL", "ADMIN_PASSWORD", "BCRYPT_COST"} {
				env[k] = vars[k]
			}
		case "login":
			env = maps.Clone(vars)
			env["MFA_KEY"] = mfaKey
		case "console":
			// As in template.yaml: no store, no key, nothing secret.
			env = map[string]string{}
		}
		fn[f.group] = startFunction(t, f.id, f.group, env)
	}

	// Everything after this needs the schema and the admin.
	if !t.Run("migrate", func(t *testing.T) { testMigrate(t, fn["migrate"]) }) {
		t.FailNow()
	}
	for _, door := range frontDoors {
		t.Run("login flow/"+door.name, func(t *testing.T) { testLoginFlow(t, fn, door, adminPassword) })
	}
	t.Run("preferences", func(t *testing.T) { testPreferences(t, fn, adminPassword) })
	t.Run("health", func(t *testing.T) { testHealth(t, fn["health"]) })
	t.Run("console", func(t *testing.T) { testConsole(t, fn["console"]) })
	t.Run("cleanup", func(t *testing.T) { testCleanup(t, fn["cleanup"], fn["login"], adminPassword) })
	t.Run("authorizer", func(t *testing.T) { testAuthorizer(t, fn, vars, adminPassword) })
	t.Run("mfa", func(t *testing.T) { testMFA(t, fn, vars, adminPassword) })
	t.Run("events no function serves", func(t *testing.T) { testUnknownEvents(t, fn) })
	t.Run("metrics", func(t *testing.T) { testMetrics(t, fn) })

	// docs/security.md 25: nothing a client sends as a secret reaches a log.
	for _, f := range functions {
		if strings.Contains(fn[f.group].output(), adminPassword) {
			t.Errorf("%s: the admin password appears in the function's output", f.id)
		}
	}
}

// setupResult is app.SetupResult as the migrate function returns it.
type setupResult struct {
	MigrationsApplied []string `json:"migrations_applied"`
	AdminCreated      bool     `json:"admin_created"`
}

// testMigrate invokes the migrate function directly on the empty
// database, then again, then as CloudFormation's custom resource does.
func testMigrate(t *testing.T, migrate *function) {
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range ms {
		want = append(want, m.Name)
	}

	var first setupResult
	if err := json.Unmarshal(migrate.invoke(t, map[string]any{}), &first); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first.MigrationsApplied, want) || !first.AdminCreated {
		t.Fatalf("first run = %+v, want migrations %v applied and the admin created", first, want)
	}
	var again setupResult
	if err := json.Unmarshal(migrate.invoke(t, map[string]any{}), &again); err != nil {
		t.Fatal(err)
	}
	if len(again.MigrationsApplied) != 0 || again.AdminCreated {
		t.Errorf("second run = %+v, want nothing to do", again)
	}

	// A stack update: the answer goes to the presigned URL, not back to
	// the caller.
	var (
		mu    sync.Mutex
		reply map[string]any
	)
	cfn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPut || json.Unmarshal(b, &reply) != nil {
			t.Errorf("CloudFormation reply: %s %s", r.Method, b)
		}
	}))
	defer cfn.Close()
	migrate.invoke(t, map[string]any{
		"RequestType":        "Update",
		"ServiceToken":       "arn:aws:lambda:us-east-1:123456789012:function:authfn-MigrateFunction-1A2B3C",
		"ResponseURL":        cfn.URL + "/cloudformation-custom-resource-response",
		"StackId":            "arn:aws:cloudformation:us-east-1:123456789012:stack/authfn/5b8b1f30-7a1c-11ee-b962-0ac0b1c8e7a1",
		"RequestId":          uuid(),
		"LogicalResourceId":  "Migrations",
		"PhysicalResourceId": "authfn-schema",
		"ResourceType":       "Custom::Migrations",
		"ResourceProperties": map[string]any{"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:authfn-MigrateFunction-1A2B3C", "CodeVersion": "2"},
		"OldResourceProperties": map[string]any{
			"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:authfn-MigrateFunction-1A2B3C", "CodeVersion": "1",
		},
	})
	mu.Lock()
	defer mu.Unlock()
	if reply == nil {
		t.Fatal("the custom resource sent CloudFormation no reply")
	}
	if reply["Status"] != "SUCCESS" || reply["PhysicalResourceId"] != "authfn-schema" || reply["LogicalResourceId"] != "Migrations" {
		t.Errorf("CloudFormation reply = %v, want SUCCESS for Migrations, physical id authfn-schema", reply)
	}
}

// tokenPair is the part of docs/api.md's TokenPair the tests read.
type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	SessionID    string `json:"session_id"`
	User         user   `json:"user"`
}

type user struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	IsAdmin  bool   `json:"is_admin"`
	IsActive bool   `json:"is_active"`
}

type problem struct {
	Status    int    `json:"status"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
}

// login signs the admin in through door on the login function.
func login(t *testing.T, fn *function, door frontDoor, password string) tokenPair {
	t.Helper()
	body := fmt.Sprintf(`{"username":"admin","password":%q}`, password)
	resp := fn.do(t, door, request{method: "POST", path: "/api/auth/v2/login", body: body})
	resp.expect(t, "POST /login", http.StatusOK)
	if got := resp.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("POST /login: Cache-Control = %q, want no-store (the answer carries tokens)", got)
	}
	var pair tokenPair
	resp.decode(t, &pair)
	if pair.AccessToken == "" || pair.RefreshToken == "" || pair.TokenType != "bearer" || pair.ExpiresIn <= 0 || pair.SessionID == "" {
		t.Fatalf("POST /login: got %s, want a token pair", resp.body)
	}
	if pair.User.Username != "admin" || !pair.User.IsAdmin {
		t.Errorf("POST /login: user = %+v, want the admin", pair.User)
	}
	return pair
}

// testLoginFlow: login → me → admin routes on other functions (which
// see the session's address as the front door recorded it, never the
// forged headers) → logout → the token no longer works.
func testLoginFlow(t *testing.T, fn map[string]*function, door frontDoor, password string) {
	pair := login(t, fn["login"], door, password)

	resp := fn["login"].do(t, door, request{method: "GET", path: "/api/auth/v2/me", bearer: pair.AccessToken})
	resp.expect(t, "GET /me", http.StatusOK)
	var me user
	resp.decode(t, &me)
	if me.ID != pair.User.ID || me.Username != "admin" || !me.IsAdmin || !me.IsActive {
		t.Errorf("GET /me = %s, want the active admin %d", resp.body, pair.User.ID)
	}

	resp = fn["users"].do(t, door, request{method: "GET", path: "/api/auth/v2/users", bearer: pair.AccessToken})
	resp.expect(t, "GET /users", http.StatusOK)
	var users struct {
		Users      []user  `json:"users"`
		NextCursor *string `json:"next_cursor"`
	}
	resp.decode(t, &users)
	if !slices.ContainsFunc(users.Users, func(u user) bool { return u.Username == "admin" && u.IsAdmin }) {
		t.Errorf("GET /users = %s, want the admin listed", resp.body)
	}

	resp = fn["sessions"].do(t, door, request{method: "GET", path: "/api/auth/v2/sessions", bearer: pair.AccessToken})
	resp.expect(t, "GET /sessions", http.StatusOK)
	var sessions struct {
		Sessions []struct {
			ID        string `json:"id"`
			Username  string `json:"username"`
			IPAddress string `json:"ip_address"`
			UserAgent string `json:"user_agent"`
		} `json:"sessions"`
		Stats struct {
			ActiveSessions int `json:"active_sessions"`
			ActiveUsers    int `json:"active_users"`
		} `json:"stats"`
	}
	resp.decode(t, &sessions)
	found := false
	for _, s := range sessions.Sessions {
		if s.ID != pair.SessionID {
			continue
		}
		found = true
		if s.IPAddress != door.sourceIP {
			t.Errorf("session ip_address = %q, want %q (the front door's source IP, not the forged %s)", s.IPAddress, door.sourceIP, forgedIP)
		}
		if s.UserAgent != userAgent || s.Username != "admin" {
			t.Errorf("session user_agent, username = %q, %q; want %q, admin", s.UserAgent, s.Username, userAgent)
		}
	}
	if !found {
		t.Errorf("GET /sessions = %s, want session %s listed", resp.body, pair.SessionID)
	}
	if sessions.Stats.ActiveSessions < 1 || sessions.Stats.ActiveUsers < 1 {
		t.Errorf("GET /sessions stats = %+v, want at least this session and user", sessions.Stats)
	}

	resp = fn["login"].do(t, door, request{method: "POST", path: "/api/auth/v2/logout", bearer: pair.AccessToken})
	resp.expect(t, "POST /logout", http.StatusOK)
	var out struct {
		Revoked int `json:"revoked"`
	}
	resp.decode(t, &out)
	if out.Revoked != 1 {
		t.Errorf("POST /logout: revoked = %d, want 1", out.Revoked)
	}

	resp = fn["login"].do(t, door, request{method: "GET", path: "/api/auth/v2/me", bearer: pair.AccessToken})
	resp.expect(t, "GET /me after logout", http.StatusUnauthorized)
	if got := resp.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
		t.Errorf("GET /me after logout: WWW-Authenticate = %q, want Bearer error=\"invalid_token\"", got)
	}
	var p problem
	resp.decode(t, &p)
	if p.Code != "invalid_token" || p.Status != http.StatusUnauthorized || p.RequestID != resp.header.Get("X-Request-Id") {
		t.Errorf("GET /me after logout = %s, want problem invalid_token carrying the request id", resp.body)
	}
}

// testPreferences: the preferences function reads and merges the
// caller's preferences.
func testPreferences(t *testing.T, fn map[string]*function, password string) {
	door := frontDoors[0]
	pair := login(t, fn["login"], door, password)
	prefs := fn["preferences"]
	type body struct {
		Preferences map[string]any `json:"preferences"`
	}

	resp := prefs.do(t, door, request{method: "GET", path: "/api/auth/v2/preferences", bearer: pair.AccessToken})
	resp.expect(t, "GET /preferences", http.StatusOK)
	var got body
	resp.decode(t, &got)
	if got.Preferences == nil || len(got.Preferences) != 0 {
		t.Errorf("GET /preferences = %s, want {\"preferences\": {}}", resp.body)
	}

	resp = prefs.do(t, door, request{method: "POST", path: "/api/auth/v2/preferences", bearer: pair.AccessToken,
		body: `{"theme":"dark","page.size":50}`})
	resp.expect(t, "POST /preferences", http.StatusOK)
	got = body{}
	resp.decode(t, &got)
	if got.Preferences["theme"] != "dark" || got.Preferences["page.size"] != 50.0 {
		t.Errorf("POST /preferences = %s, want theme dark and page.size 50", resp.body)
	}

	resp = prefs.do(t, door, request{method: "GET", path: "/api/auth/v2/preferences", bearer: pair.AccessToken})
	resp.expect(t, "GET /preferences after POST", http.StatusOK)
	got = body{}
	resp.decode(t, &got)
	if len(got.Preferences) != 2 || got.Preferences["theme"] != "dark" {
		t.Errorf("GET /preferences after POST = %s, want the two stored", resp.body)
	}
}

// testHealth: the deep check reaches both stores; liveness answers.
func testHealth(t *testing.T, health *function) {
	door := frontDoors[0]
	resp := health.do(t, door, request{method: "GET", path: "/api/auth/v2/health"})
	resp.expect(t, "GET /health", http.StatusOK)
	var h struct {
		Status  string `json:"status"`
		Version string `json:"version"`
		Checks  map[string]struct {
			Status string `json:"status"`
		} `json:"checks"`
	}
	resp.decode(t, &h)
	if h.Status != "healthy" || h.Version == "" || h.Checks["postgres"].Status != "healthy" || h.Checks["redis"].Status != "healthy" {
		t.Errorf("GET /health = %s, want healthy, a version, postgres and redis healthy", resp.body)
	}

	resp = health.do(t, door, request{method: "GET", path: "/api/auth/v2/health/live"})
	resp.expect(t, "GET /health/live", http.StatusOK)
	var live struct {
		Status string `json:"status"`
	}
	resp.decode(t, &live)
	if live.Status != "alive" {
		t.Errorf("GET /health/live = %s, want status alive", resp.body)
	}
}

// cleanupResult is auth.CleanupResult as both faces of cleanup return it.
type cleanupResult struct {
	Removed              *int64 `json:"removed"`
	DurationMS           *int64 `json:"duration_ms"`
	ExpiredIndexEntries  int64  `json:"expired_index_entries"`
	OrphanedIndexEntries int64  `json:"orphaned_index_entries"`
	ExpiredUserEntries   int64  `json:"expired_user_entries"`
	AuditEventsDeleted   int64  `json:"audit_events_deleted"`
	Complete             bool   `json:"complete"`
}

func (c cleanupResult) check(t *testing.T, what string, raw []byte) {
	t.Helper()
	if c.Removed == nil || c.DurationMS == nil || !c.Complete {
		t.Fatalf("%s = %s, want removed, duration_ms and complete true", what, raw)
	}
	if sum := c.ExpiredIndexEntries + c.OrphanedIndexEntries + c.ExpiredUserEntries + c.AuditEventsDeleted; *c.Removed != sum {
		t.Errorf("%s: removed = %d, want %d (the sum of its parts)", what, *c.Removed, sum)
	}
}

// testCleanup: the schedule's event runs cleanup with no HTTP request;
// POST /cleanup runs it for an admin.
func testCleanup(t *testing.T, cleanup, loginFn *function, password string) {
	raw := cleanup.invoke(t, scheduledEvent())
	var scheduled cleanupResult
	if err := json.Unmarshal(raw, &scheduled); err != nil {
		t.Fatalf("scheduled cleanup result %s: %v", raw, err)
	}
	scheduled.check(t, "scheduled cleanup", raw)

	door := frontDoors[0]
	pair := login(t, loginFn, door, password)
	resp := cleanup.do(t, door, request{method: "POST", path: "/api/auth/v2/cleanup", bearer: pair.AccessToken})
	resp.expect(t, "POST /cleanup", http.StatusOK)
	var onDemand cleanupResult
	resp.decode(t, &onDemand)
	onDemand.check(t, "POST /cleanup", resp.body)

	resp = cleanup.do(t, door, request{method: "POST", path: "/api/auth/v2/cleanup"})
	resp.expect(t, "POST /cleanup without a token", http.StatusUnauthorized)
}

// testMetrics: the functions wrote their metrics to stdout as CloudWatch
// Embedded Metric Format lines, valid by the specification (ParseEMF
// checks every one), and they tell what the flows above did: every front
// door's login and GET /me, by route pattern, and the scheduled cleanup's
// session counts.
func testMetrics(t *testing.T, fn map[string]*function) {
	login := testenv.ParseEMF(t, []byte(fn["login"].output()))
	if n := testenv.EMFSum(login, "authfn_logins_total", "outcome", "succeeded"); n < float64(len(frontDoors)) {
		t.Errorf("login function: %v successful logins in EMF, want at least %d (one per front door)", n, len(frontDoors))
	}
	if n := testenv.EMFSum(login, "authfn_http_requests_total", "route", "/api/auth/v2/me", "method", "GET", "status", "200"); n < float64(len(frontDoors)) {
		t.Errorf("login function: %v GET /me in EMF, want at least %d", n, len(frontDoors))
	}
	if testenv.EMFCount(login, "authfn_store_call_duration_seconds", "store", "postgres") == 0 ||
		testenv.EMFCount(login, "authfn_store_call_duration_seconds", "store", "redis") == 0 {
		t.Error("login function: no store round trips in EMF")
	}
	cleanup := testenv.ParseEMF(t, []byte(fn["cleanup"].output()))
	if !slices.Contains(testenv.EMFNames(cleanup), "authfn_sessions_active") {
		t.Errorf("cleanup function: no authfn_sessions_active in EMF; names %v", testenv.EMFNames(cleanup))
	}
}

// testUnknownEvents: an event of no shape a function serves gets an
// error payload, never something that reads as a success.
func testUnknownEvents(t *testing.T, fn map[string]*function) {
	for _, f := range functions {
		if f.group == "migrate" {
			continue // any direct invocation migrates, by design
		}
		for _, event := range []json.RawMessage{
			json.RawMessage(`{"foo":1}`),
			json.RawMessage(`{"Records":[{"eventSource":"aws:sqs","body":"x"}]}`),
		} {
			errType, errMsg := fn[f.group].invokeError(t, event)
			if !strings.Contains(errMsg, "unsupported event") {
				t.Errorf("%s: event %s: error %s: %q, want unsupported event", f.id, event, errType, errMsg)
			}
		}
	}
	// Only the cleanup function is scheduled: the others refuse the event.
	if _, errMsg := fn["login"].invokeError(t, scheduledEvent()); !strings.Contains(errMsg, "unsupported event") {
		t.Errorf("LoginFunction: scheduled event: error %q, want unsupported event", errMsg)
	}
}
