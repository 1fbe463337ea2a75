package gpustack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
	"authfn/pkg/gpustack/gpustacktest"
)

const apiKey = "gpustack_0a1b2c3d_Secret-Key-Value"

// directory is a GPUStack with an admin holding apiKey and four more
// users, two of them deactivated where the version has deactivation.
func directory(t *testing.T, version string) *gpustacktest.Server {
	t.Helper()
	s := fake(t, gpustacktest.Options{Version: version})
	s.AddAPIKey("admin", apiKey)
	v2 := strings.HasPrefix(version, "v2")
	s.AddUser("bob", "B0b-Pa55word!", "", false, !v2)
	s.AddUser("carol", "Car0l-Pa55word!", "Carol", true, true)
	s.AddUser("dave", "Dave-Pa55word!", "", false, !v2)
	return s
}

// listClient reads pages of perPage users.
func listClient(t *testing.T, o Options, perPage int) *Client {
	t.Helper()
	if o.APIKey == "" {
		o.APIKey = apiKey
	}
	c := newClient(t, o)
	c.perPage = perPage
	return c
}

// wantListError checks that err is CodeUnavailable and does not carry the key.
func wantListError(t *testing.T, users []auth.UpstreamUser, err error) {
	t.Helper()
	if users != nil {
		t.Errorf("users = %v with an error, want none at all", users)
	}
	wantCode(t, err, auth.CodeUnavailable)
	if strings.Contains(err.Error(), apiKey) || strings.Contains(err.Error(), "Secret-Key") {
		t.Errorf("error %q contains the API key", err)
	}
}

func TestListUsersPages(t *testing.T) {
	for _, tc := range []struct{ version, route string }{{"v0.7.1", "/v1/users"}, {"v2.0.1", "/v2/users"}} {
		t.Run(tc.version, func(t *testing.T) {
			s := directory(t, tc.version)
			c := listClient(t, Options{URL: s.URL()}, 2)
			got, err := c.ListUsers(context.Background())
			if err != nil {
				t.Fatalf("ListUsers: %v", err)
			}
			v2 := tc.version == "v2.0.1"
			want := []auth.UpstreamUser{ // newest first, as GPUStack orders them
				{Username: "dave", IsActive: !v2},
				{Username: "carol", FullName: "Carol", IsAdmin: true, IsActive: true},
				{Username: "bob", IsActive: !v2},
				{Username: "alice", FullName: "Alice Liddell", IsActive: true},
				{Username: "admin", FullName: "Administrator", IsAdmin: true, IsActive: true},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("users (-want +got):\n%s", diff)
			}
			if n := s.RequestsTo(tc.route); n != 3 {
				t.Errorf("GET %s: %d requests, want 3 pages", tc.route, n)
			}
			if h := s.LastHeader().Get("Authorization"); h != "Bearer "+apiKey {
				t.Errorf("Authorization = %q, want the API key as a bearer token", h)
			}
		})
	}
}

// TestListUsersAfterUpgrade: a client that detected 0.x notices the
// upgrade to 2.x at the user list, as it does at users/me.
func TestListUsersAfterUpgrade(t *testing.T) {
	s := directory(t, "v0.7.1")
	c := listClient(t, Options{URL: s.URL()}, 100)
	if _, err := c.ListUsers(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.SetVersion("v2.0.1")
	got, err := c.ListUsers(context.Background())
	if err != nil {
		t.Fatalf("ListUsers after the upgrade: %v", err)
	}
	if len(got) != 5 || s.RequestsTo("/v2/users") != 1 {
		t.Errorf("%d users, %d requests to /v2/users; want 5 and 1", len(got), s.RequestsTo("/v2/users"))
	}
}

func TestListUsersNeedsAGoodKey(t *testing.T) {
	s := directory(t, "v2.0.1")
	s.AddAPIKey("alice", "gpustack_alice_key")
	t.Run("no key", func(t *testing.T) {
		c := newClient(t, Options{URL: s.URL()})
		before := s.Requests()
		users, err := c.ListUsers(context.Background())
		wantListError(t, users, err)
		if s.Requests() != before {
			t.Error("ListUsers without a key asked GPUStack")
		}
	})
	for _, tc := range []struct{ name, key string }{
		{"unknown key", "gpustack_unknown_key"},
		{"a non-admin's key", "gpustack_alice_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := listClient(t, Options{URL: s.URL(), APIKey: tc.key, FailureThreshold: 1}, 100)
			users, err := c.ListUsers(context.Background())
			wantListError(t, users, err)
			// A refusal is an answer: the circuit stays closed for logins.
			if _, err := login(t, c, "alice", alicePassword); err != nil {
				t.Errorf("login after a refused key: %v, want the circuit closed", err)
			}
		})
	}
	t.Run("key of a deactivated admin", func(t *testing.T) {
		s.UpdateUser("admin", "Administrator", true, false)
		defer s.UpdateUser("admin", "Administrator", true, true)
		users, err := listClient(t, Options{URL: s.URL()}, 100).ListUsers(context.Background())
		wantListError(t, users, err)
	})
	for _, bad := range []string{"with space", "tab\tkey", "ünicode", strings.Repeat("k", 1025)} {
		if _, err := New(Options{URL: s.URL(), APIKey: bad}); err == nil {
			t.Errorf("New with API key %.20q = nil error, want an error", bad)
		} else if strings.Contains(err.Error(), bad) {
			t.Errorf("error %q repeats the key", err)
		}
	}
}

// TestListUsersRefusesAnIncompleteList: every way a page can be wrong, or
// the list can change or be too long while it is read, is an error, and no
// user comes back.
func TestListUsersRefusesAnIncompleteList(t *testing.T) {
	type setup = func(s *gpustacktest.Server, c *Client)
	fault := func(page int, f gpustacktest.PageFault) setup {
		return func(s *gpustacktest.Server, _ *Client) { s.FailUsersPage(page, f) }
	}
	tests := []struct {
		name  string
		setup setup
	}{
		{"500 on page 2", fault(2, gpustacktest.PageServerError)},
		{"HTML on page 2", fault(2, gpustacktest.PageMalformed)},
		{"total off on page 1", fault(1, gpustacktest.PageWrongTotal)},
		{"total off on page 3", fault(3, gpustacktest.PageWrongTotal)},
		{"a user missing from page 2", fault(2, gpustacktest.PageShort)},
		{"a user missing from the last page", fault(3, gpustacktest.PageShort)},
		{"page 2 over 4 MiB", fault(2, gpustacktest.PageOversized)},
		{"a user deleted between pages", func(s *gpustacktest.Server, _ *Client) {
			// Offset paging then skips a user: taken for deleted, they
			// would lose access here.
			s.OnUsersPage(func(page int) {
				if page == 2 {
					s.DeleteUser("dave")
				}
			})
		}},
		{"a user created between pages", func(s *gpustacktest.Server, _ *Client) {
			s.OnUsersPage(func(page int) {
				if page == 2 {
					s.AddUser("erin", "Er1n-Pa55word!", "", false, true)
				}
			})
		}},
		{"more pages than the cap", func(_ *gpustacktest.Server, c *Client) { c.maxPages = 2 }},
		{"GPUStack down", func(s *gpustacktest.Server, _ *Client) { s.SetDown(true) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := directory(t, "v2.0.1")
			c := listClient(t, Options{URL: s.URL()}, 2)
			tc.setup(s, c)
			users, err := c.ListUsers(context.Background())
			wantListError(t, users, err)
		})
	}
}

// TestListUsersMalformedPages: bodies GPUStack never sends are refused.
func TestListUsersMalformedPages(t *testing.T) {
	item := `{"username":"admin","is_admin":true,"is_active":true}`
	tests := map[string]string{
		"not JSON":              `<html></html>`,
		"an array":              `[` + item + `]`,
		"no pagination":         `{"items":[` + item + `]}`,
		"no items":              `{"pagination":{"page":1,"perPage":100,"total":1,"totalPage":1}}`,
		"items null":            `{"items":null,"pagination":{"page":1,"perPage":100,"total":1,"totalPage":1}}`,
		"total as a string":     `{"items":[` + item + `],"pagination":{"page":1,"perPage":100,"total":"1","totalPage":1}}`,
		"totalPage null":        `{"items":[` + item + `],"pagination":{"page":1,"perPage":100,"total":1,"totalPage":null}}`,
		"another page":          `{"items":[` + item + `],"pagination":{"page":2,"perPage":100,"total":1,"totalPage":1}}`,
		"another page size":     `{"items":[` + item + `],"pagination":{"page":1,"perPage":50,"total":1,"totalPage":1}}`,
		"totalPage off":         `{"items":[` + item + `],"pagination":{"page":1,"perPage":100,"total":1,"totalPage":2}}`,
		"empty list":            `{"items":[],"pagination":{"page":1,"perPage":100,"total":0,"totalPage":0}}`,
		"item without username": `{"items":[{"is_admin":true}],"pagination":{"page":1,"perPage":100,"total":1,"totalPage":1}}`,
		"Username for username": `{"items":[{"Username":"admin","is_admin":true}],"pagination":{"page":1,"perPage":100,"total":1,"totalPage":1}}`,
		"is_active null":        `{"items":[{"username":"admin","is_admin":true,"is_active":null}],"pagination":{"page":1,"perPage":100,"total":1,"totalPage":1}}`,
		"empty username":        `{"items":[{"username":"","is_admin":true}],"pagination":{"page":1,"perPage":100,"total":1,"totalPage":1}}`,
		"a name twice":          `{"items":[` + item + `,` + item + `],"pagination":{"page":1,"perPage":100,"total":2,"totalPage":1}}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			srv := versionServer(t, "v2.0.1", func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == "/v2/users/me":
					w.WriteHeader(http.StatusUnauthorized)
				case r.URL.Path == "/v2/users" && r.Header.Get("Authorization") == "Bearer "+apiKey:
					fmt.Fprint(w, body)
				default:
					http.Error(w, `{"detail":"Not Found"}`, http.StatusNotFound)
				}
			})
			users, err := listClient(t, Options{URL: srv.URL}, 100).ListUsers(context.Background())
			wantListError(t, users, err)
		})
	}
	// The same server with a well-formed page answers: the cases above
	// fail for their body alone.
	srv := versionServer(t, "v2.0.1", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/users" {
			fmt.Fprint(w, `{"items":[`+item+`],"pagination":{"page":1,"perPage":100,"total":1,"totalPage":1}}`)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	})
	if users, err := listClient(t, Options{URL: srv.URL}, 100).ListUsers(context.Background()); err != nil || len(users) != 1 {
		t.Errorf("well-formed page: %v, %v; want admin", users, err)
	}
}

func TestListUsersTimeoutAndBreaker(t *testing.T) {
	s := directory(t, "v2.0.1")
	c := listClient(t, Options{URL: s.URL(), Timeout: 200 * time.Millisecond, FailureThreshold: 1}, 2)
	if _, err := c.ListUsers(context.Background()); err != nil { // detect while the server is fast
		t.Fatal(err)
	}
	s.SetDelay(2 * time.Second)
	start := time.Now()
	users, err := c.ListUsers(context.Background())
	wantListError(t, users, err)
	if d := time.Since(start); d > time.Second {
		t.Errorf("ListUsers took %v against a 2s server, want about the 200ms timeout", d)
	}
	// The timeout was a failure: with threshold 1 the circuit is open, for
	// the listing and for logins, without asking the server.
	s.SetDelay(0)
	before := s.Requests()
	users, err = c.ListUsers(context.Background())
	wantListError(t, users, err)
	if !errors.Is(err, errCircuitOpen) {
		t.Errorf("err = %v, want the circuit open", err)
	}
	if _, err := login(t, c, "alice", alicePassword); !errors.Is(err, errCircuitOpen) {
		t.Errorf("login: err = %v, want the circuit open", err)
	}
	if s.Requests() != before {
		t.Error("an open circuit let a request through")
	}
}
