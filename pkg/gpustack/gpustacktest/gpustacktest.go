// Package gpustacktest is an in-process fake GPUStack server for tests. It
// answers GET /version, GET {/v1|/v2}/users/me and the admins' paginated
// GET {/v1|/v2}/users the way GPUStack does (see package gpustack for the
// source files each behaviour comes from) and can be made slow, down, or as
// trusting of localhost as GPUStack before 2.2, and fail one page of the
// user list on demand.
package gpustacktest

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultVersion is the version a Server reports when Options.Version is empty.
const DefaultVersion = "v2.2.0"

// GPUStack's timestamps are naive datetimes, serialised by pydantic without
// a zone.
const createdAt = "2025-01-02T03:04:05"

// Options configure a Server.
type Options struct {
	// Version is what GET /version reports, with the "v" of release tags:
	// "v0.6.2", "v0.7.1", "v2.0.1", "v2.2.0". It decides the route prefix
	// (/v1 before 2.0, /v2 after) and the profile's fields. Default
	// DefaultVersion.
	Version string
	// CaseInsensitiveUsernames makes the username lookup ignore case, as
	// GPUStack does on MySQL, whose default collation compares without
	// case: signing in as "ALICE" then answers alice's profile.
	CaseInsensitiveUsernames bool
}

// Server is a running fake GPUStack on a loopback http address.
type Server struct {
	t       testing.TB
	srv     *httptest.Server
	caseIns bool

	mu         sync.Mutex
	version    string
	users      []*user
	delay      time.Duration
	down       bool
	drop       bool
	firstAdmin bool
	total      int
	perPath    map[string]int
	lastHeader http.Header
	apiKeys    map[string]string // key → username
	pageFaults map[int]PageFault
	onPage     func(page int)
}

type user struct {
	id                           int
	username, password, fullName string
	admin, active                bool
	source                       string
}

// New starts a fake GPUStack and stops it when the test ends.
func New(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	if _, ok := parseVersion(o.Version); !ok {
		t.Fatalf("gpustacktest: version %q is not like v2.0.1", o.Version)
	}
	s := &Server{t: t, caseIns: o.CaseInsensitiveUsernames, version: o.Version, perPath: map[string]int{},
		apiKeys: map[string]string{}, pageFaults: map[int]PageFault{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the server's base URL, http://127.0.0.1:port.
func (s *Server) URL() string { return s.srv.URL }

// AddUser adds a local user (source "Local"). GPUStack has no deactivation
// before 2.0, so active=false on an older version fails the test.
func (s *Server) AddUser(username, password, fullName string, admin, active bool) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !active && !s.features().isActive {
		s.t.Fatalf("gpustacktest: GPUStack %s has no deactivated users", s.version)
	}
	s.users = append(s.users, &user{id: len(s.users) + 1, username: username, password: password,
		fullName: fullName, admin: admin, active: active, source: "Local"})
}

// UpdateUser changes an existing user as an admin would in GPUStack's UI:
// the next sign-in sees the new profile. It fails the test for a user
// that does not exist.
func (s *Server) UpdateUser(username, fullName string, admin, active bool) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.username == username {
			u.fullName, u.admin, u.active = fullName, admin, active
			return
		}
	}
	s.t.Fatalf("gpustacktest: no user %q", username)
}

// DeleteUser removes a user, as an admin does in GPUStack's UI: they are
// gone from the user list and can no longer sign in. It fails the test for
// a user that does not exist.
func (s *Server) DeleteUser(username string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, u := range s.users {
		if u.username == username {
			s.users = append(s.users[:i], s.users[i+1:]...)
			return
		}
	}
	s.t.Fatalf("gpustacktest: no user %q", username)
}

// AddAPIKey gives username an API key, sent as "Authorization: Bearer key".
// GET /users answers only a key of an active admin: 401 for an unknown
// key or a deactivated (or deleted) owner, 403 for a non-admin.
func (s *Server) AddAPIKey(username, key string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKeys[key] = username
}

// PageFault is how one page of GET /users goes wrong.
type PageFault int

// The faults FailUsersPage can inject.
const (
	PageOK          PageFault = iota // answered as GPUStack does
	PageServerError                  // 500 ErrorResponse
	PageMalformed                    // 200 with HTML, as from a login page in front
	PageWrongTotal                   // 200, pagination.total one more than the users there are
	PageShort                        // 200, the page's last user left out
	PageOversized                    // 200, a true page padded with 5 MiB of JSON whitespace
)

// FailUsersPage makes page (1 for the first) of GET /users answer with
// fault f until it is set back to PageOK.
func (s *Server) FailUsersPage(page int, f PageFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageFaults[page] = f
}

// OnUsersPage makes fn run before each page of GET /users is served, with
// the page number, outside the server's lock: a test can change the users
// between two pages, as a GPUStack admin might while a list is read.
func (s *Server) OnUsersPage(fn func(page int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onPage = fn
}

// AddExternalUser adds an active, non-admin user from an identity provider
// (source "OIDC" or "SAML") that an admin has also given a password, as
// GPUStack's user update allows: Basic auth then works and the profile says
// where the user came from. Sources exist from 0.7.1; on an older version
// this fails the test.
func (s *Server) AddExternalUser(username, password, fullName, source string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.features().source {
		s.t.Fatalf("gpustacktest: GPUStack %s has no user sources", s.version)
	}
	s.users = append(s.users, &user{id: len(s.users) + 1, username: username, password: password,
		fullName: fullName, active: true, source: source})
}

// SetVersion changes what /version reports and which routes exist, as an
// upgrade in place does.
func (s *Server) SetVersion(v string) {
	s.t.Helper()
	if _, ok := parseVersion(v); !ok {
		s.t.Fatalf("gpustacktest: version %q is not like v2.0.1", v)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version = v
}

// SetDelay makes every answer wait d first (a slow server).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetDown makes every request get 503 Service Unavailable, as from a proxy
// in front of a stopped GPUStack.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// SetDropConnections makes the server close every connection without an
// answer (a crashed process behind a TCP proxy).
func (s *Server) SetDropConnections(drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop = drop
}

// AnswerFirstAdminToLocalhost reproduces GPUStack's localhost fallback
// (gpustack/api/auth.py get_current_user, releases before 2.2 started
// without --force-auth-localhost): a request that authenticated no one and
// comes from 127.0.0.1 is served as the first admin. So users/me with a
// wrong password, an unknown user or no credentials answers the first
// admin's profile; correct credentials still answer their own user. Every
// request to this fake comes from 127.0.0.1.
func (s *Server) AnswerFirstAdminToLocalhost(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.firstAdmin = on
}

// Requests is the number of requests received, to any path.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// RequestsTo is the number of requests received for path, e.g. "/version".
func (s *Server) RequestsTo(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perPath[path]
}

// LastHeader is a copy of the headers of the last request received.
func (s *Server) LastHeader() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastHeader.Clone()
}

type features struct {
	prefix   string // "/v1" or "/v2"
	source   bool   // profile has "source" (0.7.1)
	isActive bool   // profile has is_active and the 2.0 fields
}

// features must be called with s.mu held.
func (s *Server) features() features {
	v, _ := parseVersion(s.version)
	f := features{prefix: "/v1"}
	if v[0] >= 2 {
		f = features{prefix: "/v2", source: true, isActive: true}
	} else if v[0] >= 1 || v[1] > 7 || v[1] == 7 && v[2] >= 1 {
		f.source = true
	}
	return f
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.total++
	s.perPath[r.URL.Path]++
	s.lastHeader = r.Header.Clone()
	delay, down, drop, version, f := s.delay, s.down, s.drop, s.version, s.features()
	s.mu.Unlock()

	if delay > 0 {
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-r.Context().Done(): // the client gave up, or the server is closing
			timer.Stop()
			return
		}
	}
	if drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if down {
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "Service unavailable")
		return
	}
	switch r.URL.Path {
	case "/version":
		if !onlyGET(w, r) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"version": version, "git_commit": "1a2b3c4"})
	case f.prefix + "/users/me":
		if !onlyGET(w, r) {
			return
		}
		s.usersMe(w, r, f)
	case f.prefix + "/users":
		if !onlyGET(w, r) {
			return
		}
		s.usersList(w, r, f)
	default:
		// Starlette's own 404, not GPUStack's ErrorResponse: no route matched.
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
	}
}

func onlyGET(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet {
		return true
	}
	w.Header().Set("Allow", http.MethodGet)
	writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"detail": "Method Not Allowed"})
	return false
}

// usersMe follows get_current_user for Basic credentials.
func (s *Server) usersMe(w http.ResponseWriter, r *http.Request, f features) {
	username, password, present, ok := basic(r.Header.Get("Authorization"))
	if !ok {
		// FastAPI's HTTPBasic raises this itself, before GPUStack's code runs.
		w.Header().Set("WWW-Authenticate", "Basic")
		writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Invalid authentication credentials"})
		return
	}
	s.mu.Lock()
	var u *user
	if present {
		u = s.authenticate(username, password)
	}
	if u == nil && s.firstAdmin && clientIP(r) == "127.0.0.1" {
		u = s.firstAdminUser()
	}
	var body any
	if u != nil {
		body = s.profile(u, f)
	}
	active := u != nil && u.active
	s.mu.Unlock()

	switch {
	case u == nil:
		writeError(w, http.StatusUnauthorized, "Unauthorized", "Invalid authentication credentials")
	case !active:
		// Reached only through the localhost fallback: authenticate_user
		// already turned a deactivated user's own login into "no user".
		writeError(w, http.StatusUnauthorized, "Unauthorized", "User account is deactivated")
	default:
		writeJSON(w, http.StatusOK, body)
	}
}

// usersList follows get_users behind get_admin_user: a bearer API key of
// an active admin, then one page of UsersPublic, newest user first
// (paginated_by_query's default "created_at DESC").
func (s *Server) usersList(w http.ResponseWriter, r *http.Request, f features) {
	q := r.URL.Query()
	page := queryInt(w, q, "page", 1, 0)
	if page == 0 {
		return
	}
	perPage := queryInt(w, q, "perPage", 100, 100)
	if perPage == 0 {
		return
	}
	s.mu.Lock()
	hook := s.onPage
	s.mu.Unlock()
	if hook != nil {
		hook(page)
	}

	s.mu.Lock()
	var caller *user
	if scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "bearer") {
		if name, found := s.apiKeys[key]; found {
			caller = s.byName(name)
		}
	}
	if caller == nil && s.firstAdmin && clientIP(r) == "127.0.0.1" {
		caller = s.firstAdminUser()
	}
	fault := s.pageFaults[page]
	total := len(s.users)
	var items []any
	for i := total - 1 - (page-1)*perPage; i >= 0 && len(items) < perPage; i-- {
		items = append(items, s.profile(s.users[i], f))
	}
	s.mu.Unlock()

	switch {
	case caller == nil:
		writeError(w, http.StatusUnauthorized, "Unauthorized", "Invalid authentication credentials")
		return
	case !caller.active:
		writeError(w, http.StatusUnauthorized, "Unauthorized", "User account is deactivated")
		return
	case !caller.admin:
		writeError(w, http.StatusForbidden, "Forbidden", "No permission to access")
		return
	}
	if items == nil {
		items = []any{}
	}
	switch fault {
	case PageServerError:
		writeError(w, http.StatusInternalServerError, "InternalServerError", "Failed to list users")
		return
	case PageMalformed:
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html><body>Sign in</body></html>")
		return
	case PageWrongTotal:
		total++
	case PageShort:
		if len(items) > 0 {
			items = items[:len(items)-1]
		}
	}
	body := map[string]any{"items": items, "pagination": map[string]int{
		"page": page, "perPage": perPage, "total": total, "totalPage": (total + perPage - 1) / perPage,
	}}
	if fault == PageOversized {
		b, _ := json.Marshal(body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
		_, _ = io.WriteString(w, strings.Repeat(" ", 5<<20))
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// queryInt reads an integer query parameter as FastAPI's Query(default,
// ge=1, le=max) does (max 0: no upper bound), writing its 422 and
// returning 0 when the value does not fit.
func queryInt(w http.ResponseWriter, q url.Values, name string, def, max int) int {
	raw, ok := q[name]
	if !ok {
		return def
	}
	n, err := strconv.Atoi(raw[0])
	msg := ""
	switch {
	case err != nil:
		msg = "Input should be a valid integer, unable to parse string as an integer"
	case n < 1:
		msg = "Input should be greater than or equal to 1"
	case max > 0 && n > max:
		msg = "Input should be less than or equal to " + strconv.Itoa(max)
	}
	if msg == "" {
		return n
	}
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": []map[string]any{
		{"loc": []string{"query", name}, "msg": msg, "input": raw[0]},
	}})
	return 0
}

// byName finds a user by exact name. Called with s.mu held.
func (s *Server) byName(name string) *user {
	for _, u := range s.users {
		if u.username == name {
			return u
		}
	}
	return nil
}

// basic parses Authorization like FastAPI's HTTPBasic(auto_error=False):
// no header or another scheme is "no credentials" (present=false); a Basic
// value that is not base64 of ASCII "user:password" is an error (ok=false).
func basic(h string) (username, password string, present, ok bool) {
	scheme, param, _ := strings.Cut(h, " ")
	if h == "" || !strings.EqualFold(scheme, "basic") {
		return "", "", false, true
	}
	raw, err := base64.StdEncoding.DecodeString(param)
	if err != nil {
		return "", "", true, false
	}
	for _, b := range raw {
		if b >= 0x80 { // Python's .decode("ascii")
			return "", "", true, false
		}
	}
	username, password, found := strings.Cut(string(raw), ":")
	return username, password, true, found
}

// authenticate is authenticate_user with its exceptions swallowed, as
// authenticate_basic_user does: unknown, wrong password and deactivated are
// all nil. Called with s.mu held.
func (s *Server) authenticate(username, password string) *user {
	for _, u := range s.users {
		same := u.username == username || s.caseIns && strings.EqualFold(u.username, username)
		if !same {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(u.password), []byte(password)) != 1 || !u.active {
			return nil
		}
		return u
	}
	return nil
}

// firstAdminUser is User.first_by_field(session, "is_admin", True): the
// oldest admin, active or not. Called with s.mu held.
func (s *Server) firstAdminUser() *user {
	for _, u := range s.users {
		if u.admin {
			return u
		}
	}
	return nil
}

// Profiles in UserPublic's field order for each generation.
type (
	profileV0 struct { // before 0.7.1
		Username              string  `json:"username"`
		IsAdmin               bool    `json:"is_admin"`
		FullName              *string `json:"full_name"`
		RequirePasswordChange bool    `json:"require_password_change"`
		ID                    int     `json:"id"`
		CreatedAt             string  `json:"created_at"`
		UpdatedAt             string  `json:"updated_at"`
	}
	profileV07 struct { // 0.7.1 to 0.x
		Username              string  `json:"username"`
		IsAdmin               bool    `json:"is_admin"`
		FullName              *string `json:"full_name"`
		Source                string  `json:"source"`
		RequirePasswordChange bool    `json:"require_password_change"`
		ID                    int     `json:"id"`
		CreatedAt             string  `json:"created_at"`
		UpdatedAt             string  `json:"updated_at"`
	}
	profileV2 struct {
		Username              string  `json:"username"`
		IsAdmin               bool    `json:"is_admin"`
		IsActive              bool    `json:"is_active"`
		FullName              *string `json:"full_name"`
		AvatarURL             *string `json:"avatar_url"`
		Source                string  `json:"source"`
		RequirePasswordChange bool    `json:"require_password_change"`
		IsSystem              bool    `json:"is_system"`
		Role                  *string `json:"role"`
		ClusterID             *int    `json:"cluster_id"`
		WorkerID              *int    `json:"worker_id"`
		ID                    int     `json:"id"`
		CreatedAt             string  `json:"created_at"`
		UpdatedAt             string  `json:"updated_at"`
	}
)

func (s *Server) profile(u *user, f features) any {
	var fullName *string
	if u.fullName != "" {
		fullName = &u.fullName
	}
	switch {
	case f.isActive:
		return profileV2{Username: u.username, IsAdmin: u.admin, IsActive: u.active, FullName: fullName,
			Source: u.source, ID: u.id, CreatedAt: createdAt, UpdatedAt: createdAt}
	case f.source:
		return profileV07{Username: u.username, IsAdmin: u.admin, FullName: fullName, Source: u.source,
			ID: u.id, CreatedAt: createdAt, UpdatedAt: createdAt}
	default:
		return profileV0{Username: u.username, IsAdmin: u.admin, FullName: fullName,
			ID: u.id, CreatedAt: createdAt, UpdatedAt: createdAt}
	}
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// writeError writes GPUStack's ErrorResponse (gpustack/api/exceptions.py).
func writeError(w http.ResponseWriter, status int, reason, message string) {
	writeJSON(w, status, struct {
		Code    int    `json:"code"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}{status, reason, message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// parseVersion reads "v2.0.1" (also "v0.7.1rc1") into three numbers.
func parseVersion(v string) ([3]int, bool) {
	var out [3]int
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) != 3 {
		return out, false
	}
	for i, p := range parts {
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(p[:end])
		if err != nil {
			return out, false
		}
		out[i] = n
	}
	return out, true
}
