// Package gpustack checks passwords against a GPUStack server
// (github.com/gpustack/gpustack) so its users can sign in to authfn, as
// docs/architecture.md's "Upstream fallback (GPUStack)" describes. *Client implements
// auth.Upstream and, with an API key, auth.UpstreamDirectory (users.go).
//
// What the client relies on, from GPUStack's source:
//
//   - GET /version answers {"version": "v2.0.1", "git_commit": "1a2b3c4"}
//     without authentication (gpustack/routes/probes.py). Releases carry the
//     git tag, "v" included (hack/lib/version.sh, hack/build.sh); builds from
//     an untagged or dirty tree say "v0.0.0", and a source checkout "0.0.0"
//     (gpustack/__init__.py).
//   - The profile route is GET {prefix}/users/me, prefix "/v1" before 2.0 and
//     "/v2" from 2.0 (gpustack/routes/routes.py, versioned_prefix). On 2.x
//     "/v1" is the OpenAI-compatible alias, which has no users/me: 404.
//   - The answer is UserPublic (gpustack/schemas/users.py): username,
//     is_admin, full_name, require_password_change, id, created_at,
//     updated_at; "source" ("Local", "OIDC", "SAML"; AuthProviderEnum) from
//     0.7.1 (migration 2025_08_05 add_users_source, server default 'Local');
//     is_active and the is_system/role/cluster_id/worker_id fields from 2.0
//     (migration 2025_10_07 add_is_active). Before 0.7.1 there is no SSO at
//     all, so a profile without "source" is a local user.
//   - HTTP Basic goes through FastAPI's HTTPBasic(auto_error=False) into
//     authenticate_user (gpustack/api/auth.py). Every failure there, a
//     deactivated account included, is swallowed into "no user", so a wrong
//     password and a deactivated user both get 401
//     {"code":401,"reason":"Unauthorized","message":"Invalid authentication
//     credentials"} (gpustack/api/exceptions.py ErrorResponse). Credentials
//     FastAPI cannot decode (not base64, not ASCII, no ":") get its own 401
//     {"detail":"Invalid authentication credentials"}; old FastAPI used 403.
//   - When no user was authenticated and the client address is 127.0.0.1,
//     GPUStack (0.4 to 2.x, unless started with --force-auth-localhost)
//     authenticates the request as the first admin:
//     `user = await User.first_by_field(session, "is_admin", True)` in
//     get_current_user. A same-host reverse proxy makes every request look
//     local (issue #4211). The newest auth.py (authenticate_request) no
//     longer has that branch; docs/architecture.md dates the change to 2.2.
//
// The first-admin answer matches the requested username whenever someone
// signs in as that admin with any password, so the exact-username rule alone
// cannot catch it. The client therefore asks users/me once without
// credentials when it detects the API version: a server that answers 200 to
// that would vouch for anyone, and every login is refused as unavailable
// until it stops (or the detection is renewed and it has stopped).
package gpustack

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"authfn/pkg/auth"
)

// Defaults for Options.
const (
	DefaultTimeout          = 3 * time.Second
	DefaultFailureThreshold = 5
	DefaultOpenFor          = 30 * time.Second
)

const (
	// what is the first argument of auth.Unavailable.
	what = "gpustack"
	// versionTTL bounds how long a detected API version (and the
	// localhost-bypass check made with it) is trusted: an upgrade or a
	// restart with other flags is noticed within this time.
	versionTTL = 5 * time.Minute
	// maxBody bounds every response body we read.
	maxBody = 64 << 10
	// Credentials longer than this are refused without asking: GPUStack
	// needs neither, and they would make outsized headers.
	maxUsername = 256
	maxPassword = 1024
	userAgent   = "authfn/1 (GPUStack upstream login)"

	pathV1 = "/v1/users/me"
	pathV2 = "/v2/users/me"
	// sourceLocal is how GPUStack spells a user whose password it holds.
	sourceLocal = "Local"
)

// constError lets sentinel causes be constants rather than package variables.
type constError string

func (e constError) Error() string { return string(e) }

const (
	errCircuitOpen    = constError("circuit breaker open after repeated failures")
	errLocalhostAdmin = constError("GPUStack answers requests without credentials with a profile: " +
		"it treats this client as localhost and authenticates it as its first admin " +
		"(pre-2.2 behaviour); start GPUStack with --force-auth-localhost or reach it through a non-loopback address")
)

// Options configure a Client. Zero values take the defaults.
type Options struct {
	// URL is GPUStack's base URL, e.g. https://gpustack.example.com or
	// https://example.com/gpustack. It must be https, or http to a loopback
	// host, because the upstream receives passwords.
	URL string
	// Timeout bounds one Authenticate call, every request in it included.
	// Default 3s.
	Timeout time.Duration
	// HTTPClient is used instead of the default (tests). Its CheckRedirect
	// and Jar are overridden: redirects are never followed, cookies never kept.
	HTTPClient *http.Client
	// Now is the clock of the circuit breaker and the version cache.
	Now func() time.Time
	// FailureThreshold consecutive failures open the circuit. Default 5.
	FailureThreshold int
	// OpenFor is how long an open circuit refuses calls. Default 30s.
	OpenFor time.Duration
	// APIKey is a GPUStack API key of an active admin, sent as a bearer
	// token by ListUsers only. Empty: ListUsers always fails.
	APIKey string
}

// Client asks one GPUStack server whether a password is right. It is safe
// for concurrent use; its circuit breaker and version cache are per process.
type Client struct {
	base    string // scheme://host[:port][/path], no userinfo, no trailing slash
	http    *http.Client
	timeout time.Duration
	now     func() time.Time
	breaker *breaker
	apiKey  string

	// Bounds of ListUsers; tests lower them.
	perPage     int
	maxPages    int
	maxPageBody int64

	// detecting is a lock that waiters can give up on with their context:
	// only one call at a time asks /version.
	detecting chan struct{}
	mu        sync.Mutex
	path      string    // users/me path of the detected API version
	expires   time.Time // when path must be detected again
}

// New returns a Client for the GPUStack server at o.URL. It returns an error
// (a configuration problem, not an *auth.Error) when the URL is not absolute
// https, or http to a loopback host, or has a query or fragment, or when a
// duration or the threshold is negative. Credentials embedded in the URL are
// dropped.
func New(o Options) (*Client, error) {
	base, err := baseURL(o.URL)
	if err != nil {
		return nil, err
	}
	if o.Timeout < 0 || o.OpenFor < 0 || o.FailureThreshold < 0 {
		return nil, errors.New("gpustack: Timeout, OpenFor and FailureThreshold must not be negative")
	}
	if o.APIKey != "" {
		if err := CheckAPIKey(o.APIKey); err != nil {
			return nil, err
		}
	}
	c := &Client{
		base:        base,
		timeout:     orDefault(o.Timeout, DefaultTimeout),
		now:         o.Now,
		breaker:     &breaker{threshold: orDefault(o.FailureThreshold, DefaultFailureThreshold), openFor: orDefault(o.OpenFor, DefaultOpenFor)},
		apiKey:      o.APIKey,
		perPage:     listPerPage,
		maxPages:    listMaxPages,
		maxPageBody: listMaxBody,
		detecting:   make(chan struct{}, 1),
	}
	if c.now == nil {
		c.now = time.Now
	}
	var hc http.Client
	if o.HTTPClient != nil {
		hc = *o.HTTPClient
	} else {
		hc.Transport = transport()
	}
	// A redirect could carry the Authorization header, or the user to a
	// look-alike; a 3xx is an answer we do not expect, never a hop to make.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// No cookie jar: a session cookie from one user's login must never ride
	// along with the next user's request.
	hc.Jar = nil
	c.http = &hc
	return c, nil
}

func orDefault[T time.Duration | int](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// transport is the default transport with certificate verification on
// (never configurable here) and TLS 1.2 at least.
func transport() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	t = t.Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	return t
}

// CheckURL reports whether raw is acceptable as the GPUStack server's URL
// (what New accepts: absolute https, or http to a loopback host, no query
// or fragment). The configuration checks GPUSTACK_URL with it, so the rule
// lives in one place. Its message never repeats raw.
func CheckURL(raw string) error {
	_, err := baseURL(raw)
	return err
}

// baseURL validates raw and returns it without userinfo or trailing slash.
// Messages never repeat raw: it may hold a password.
func baseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("gpustack: URL does not parse")
	}
	u.User = nil
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return "", errors.New("gpustack: URL must be https (or http to a loopback host)")
	case u.Host == "" || u.Opaque != "":
		return "", errors.New("gpustack: URL must be absolute, like https://gpustack.example.com")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("gpustack: URL must not have a query or fragment")
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return "", fmt.Errorf("gpustack: %s: plain http is allowed only to a loopback host; use https", u.Redacted())
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Source returns auth.SourceGPUStack, the source of users this client vouches for.
func (c *Client) Source() string { return auth.SourceGPUStack }

// Authenticate asks GPUStack whether password is username's, with one GET
// of users/me under HTTP Basic (a second only when an upgrade moved the
// route). It returns the profile only when GPUStack answers with exactly
// this username (byte for byte) and source "Local"; IsActive is false when
// GPUStack says so, and the caller decides.
//
// Returns ErrInvalidCredentials (CodeInvalidCredentials) for a 401 or 403,
// for another user's profile, for a non-Local profile, and, without asking,
// for credentials Basic cannot carry. Returns CodeUnavailable when the
// server is slow (Timeout), unreachable, answers 5xx, a redirect, an
// unexpected status or an unreadable body, vouches for requests without
// credentials, or when the circuit is open. Only CodeUnavailable outcomes
// count towards opening the circuit.
func (c *Client) Authenticate(ctx context.Context, username, password string) (auth.UpstreamUser, error) {
	if err := checkCredentials(username, password); err != nil {
		return auth.UpstreamUser{}, invalid(err)
	}
	t, ok := c.breaker.allow(c.now())
	if !ok {
		return auth.UpstreamUser{}, auth.Unavailable(what, errCircuitOpen)
	}
	callCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u, o, err := c.authenticate(callCtx, username, password)
	if o == failed && ctx.Err() != nil {
		o = abandoned
	}
	c.breaker.done(t, o, c.now())
	return u, err
}

func (c *Client) authenticate(ctx context.Context, username, password string) (auth.UpstreamUser, outcome, error) {
	path, status, body, err := c.getUsersRoute(ctx, "/me", func(req *http.Request) { req.SetBasicAuth(username, password) }, maxBody)
	if err != nil {
		return auth.UpstreamUser{}, failed, auth.Unavailable(what, err)
	}
	switch status {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		return auth.UpstreamUser{}, answered, invalid(fmt.Errorf("GET %s: %d", c.base+path, status))
	default:
		return auth.UpstreamUser{}, failed, auth.Unavailable(what, fmt.Errorf("GET %s: unexpected status %d", c.base+path, status))
	}
	p, err := parseProfile(body)
	if err != nil {
		return auth.UpstreamUser{}, failed, auth.Unavailable(what, fmt.Errorf("GET %s: %w", c.base+path, err))
	}
	// GPUStack may answer with another user's profile (its localhost
	// fallback, or a case-insensitive MySQL lookup): that proves nothing
	// about this username's password.
	if p.Username != username {
		return auth.UpstreamUser{}, answered, invalid(errors.New("gpustack answered with another user's profile"))
	}
	if p.source != sourceLocal {
		return auth.UpstreamUser{}, answered, invalid(fmt.Errorf("gpustack user's source is %q, not %q", p.source, sourceLocal))
	}
	return p.UpstreamUser, answered, nil
}

// checkCredentials refuses what HTTP Basic cannot carry faithfully, so the
// upstream is never asked a question whose answer would be about someone else.
func checkCredentials(username, password string) error {
	switch {
	case username == "" || password == "":
		return errors.New("empty username or password")
	case len(username) > maxUsername || len(password) > maxPassword:
		return errors.New("username or password too long")
	case strings.ContainsRune(username, ':'):
		return errors.New("username contains ':', which HTTP Basic cannot carry")
	case !utf8.ValidString(username):
		return errors.New("username is not UTF-8")
	}
	return nil
}

// invalid is ErrInvalidCredentials with a cause for the log.
func invalid(cause error) error {
	return &auth.Error{Code: auth.CodeInvalidCredentials, Message: auth.ErrInvalidCredentials.Message, Err: cause}
}

// getUsersRoute GETs the users route under the server's API prefix
// ("/v2/users" or "/v1/users") followed by rest ("/me", "?page=1..."),
// with the credentials that authorize sets. A 404 means the server changed
// API generation since we looked (an upgrade): it detects again and, if
// the route moved, asks once more. It returns the path it asked last.
func (c *Client) getUsersRoute(ctx context.Context, rest string, authorize func(*http.Request), limit int64) (string, int, []byte, error) {
	me, err := c.usersMePath(ctx)
	if err != nil {
		return "", 0, nil, err
	}
	path := usersPath(me) + rest
	status, body, err := c.get(ctx, path, authorize, limit)
	if err == nil && status == http.StatusNotFound {
		c.forget(me)
		var again string
		if again, err = c.usersMePath(ctx); err == nil {
			if again == me {
				err = fmt.Errorf("GET %s: 404, and /version still names that route", c.base+path)
			} else {
				path = usersPath(again) + rest
				status, body, err = c.get(ctx, path, authorize, limit)
			}
		}
	}
	return path, status, body, err
}

// usersPath is the users collection of a users/me path: "/v2/users".
func usersPath(me string) string { return strings.TrimSuffix(me, "/me") }

// get sends one GET to base+path and returns the status and the body,
// read up to limit bytes. authorize, if not nil, adds the credentials.
// Errors name the URL, never the credentials.
func (c *Client) get(ctx context.Context, path string, authorize func(*http.Request), limit int64) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: %w", c.base+path, err)
	}
	if authorize != nil {
		authorize(req)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err // *url.Error: method, URL (no userinfo) and cause
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: reading body: %w", c.base+path, err)
	}
	if int64(len(body)) > limit {
		return 0, nil, fmt.Errorf("GET %s: body larger than %d bytes", c.base+path, limit)
	}
	return resp.StatusCode, body, nil
}

// usersMePath returns the users/me path of the server's API version,
// detecting it when the cached answer is missing or old.
func (c *Client) usersMePath(ctx context.Context) (string, error) {
	if p := c.cached(); p != "" {
		return p, nil
	}
	select {
	case c.detecting <- struct{}{}:
		defer func() { <-c.detecting }()
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for GPUStack version detection: %w", ctx.Err())
	}
	if p := c.cached(); p != "" { // detected while we waited
		return p, nil
	}
	p, err := c.detect(ctx)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.path, c.expires = p, c.now().Add(versionTTL)
	c.mu.Unlock()
	return p, nil
}

func (c *Client) cached() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.path == "" || !c.now().Before(c.expires) {
		return ""
	}
	return c.path
}

// forget drops the cached path if it is still path.
func (c *Client) forget(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.path == path {
		c.path = ""
	}
}

// detect asks /version which users/me route to use, then asks that route
// without credentials: a 401 (or 403) shows the route exists and that the
// server does not vouch for anonymous requests from us.
func (c *Client) detect(ctx context.Context) (string, error) {
	status, body, err := c.get(ctx, "/version", nil, maxBody)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("GET %s/version: unexpected status %d", c.base, status)
	}
	var v struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("GET %s/version: %w", c.base, err)
	}
	major, dev, err := parseVersion(v.Version)
	if err != nil {
		return "", fmt.Errorf("GET %s/version: %w", c.base, err)
	}
	candidates := []string{pathV1}
	switch {
	case dev:
		// An untagged build says nothing about its API generation; current
		// development is 2.x, and a 404 sends us to the other route.
		candidates = []string{pathV2, pathV1}
	case major >= 2:
		candidates = []string{pathV2}
	}
	for _, p := range candidates {
		status, _, err := c.get(ctx, p, nil, maxBody)
		if err != nil {
			return "", err
		}
		switch status {
		case http.StatusUnauthorized, http.StatusForbidden:
			return p, nil
		case http.StatusOK:
			return "", fmt.Errorf("GET %s without credentials: 200: %w", c.base+p, errLocalhostAdmin)
		case http.StatusNotFound:
			continue
		default:
			return "", fmt.Errorf("GET %s: unexpected status %d", c.base+p, status)
		}
	}
	return "", fmt.Errorf("GPUStack %q has no users/me route at %s", v.Version, strings.Join(candidates, " or "))
}

// parseVersion reads the major number of "v2.0.1", "v0.7.1rc1", "2.2.0";
// dev is true for the "0.0.0" of untagged builds and source checkouts.
func parseVersion(s string) (major int, dev bool, err error) {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V")
	nums := make([]int, 0, 3)
	for part := range strings.SplitSeq(t, ".") {
		end := 0
		for end < len(part) && part[end] >= '0' && part[end] <= '9' {
			end++
		}
		if end == 0 {
			break
		}
		n, err := strconv.Atoi(part[:end])
		if err != nil {
			return 0, false, fmt.Errorf("version %q: %w", s, err)
		}
		nums = append(nums, n)
		if end < len(part) || len(nums) == 3 {
			break // a suffix such as "rc1" ends the numbers
		}
	}
	if len(nums) == 0 {
		return 0, false, fmt.Errorf("version %q is not a GPUStack version", s)
	}
	for len(nums) < 3 {
		nums = append(nums, 0)
	}
	return nums[0], nums[0] == 0 && nums[1] == 0 && nums[2] == 0, nil
}

// profile is what the client takes from UserPublic.
type profile struct {
	auth.UpstreamUser
	source string
}

// parseProfile reads UserPublic by exact key (encoding/json's struct
// decoding would also take "Username"). username and is_admin are required;
// full_name may be null; is_active absent (before 2.0) means active; source
// absent (before 0.7.1, when every user was local) means "Local", while a
// present source is taken as it is, null included, so only "Local" passes.
func parseProfile(body []byte) (profile, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return profile{}, fmt.Errorf("profile: %w", err)
	}
	if raw == nil {
		return profile{}, errors.New("profile: not a JSON object")
	}
	var p profile
	var fullName *string
	isActive := true
	fields := []struct {
		key      string
		dst      any
		required bool
	}{
		{"username", &p.Username, true},
		{"is_admin", &p.IsAdmin, true},
		{"full_name", &fullName, false},
		{"is_active", &isActive, false},
	}
	for _, f := range fields {
		v, ok := raw[f.key]
		if !ok {
			if f.required {
				return profile{}, fmt.Errorf("profile: no %q", f.key)
			}
			continue
		}
		if string(v) == "null" && f.key != "full_name" {
			return profile{}, fmt.Errorf("profile: %q is null", f.key)
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return profile{}, fmt.Errorf("profile: %q: %w", f.key, err)
		}
	}
	if fullName != nil {
		p.FullName = *fullName
	}
	p.IsActive = isActive
	p.source = sourceLocal
	if v, ok := raw["source"]; ok {
		var s *string
		if err := json.Unmarshal(v, &s); err != nil {
			return profile{}, fmt.Errorf("profile: %q: %w", "source", err)
		}
		p.source = "null"
		if s != nil {
			p.source = *s
		}
	}
	return p, nil
}
