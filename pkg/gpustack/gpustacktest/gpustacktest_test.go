package gpustacktest

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func get(t *testing.T, url, username, password string, withAuth bool) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if withAuth {
		req.SetBasicAuth(username, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("GET %s: body %q is not a JSON object: %v", url, b, err)
	}
	return resp.StatusCode, body
}

func keys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

func TestWireFormat(t *testing.T) {
	tests := []struct {
		version   string
		route     string
		wrong     string
		wantKeys  []string
		wantShape string
	}{
		{"v0.6.2", "/v1/users/me", "/v2/users/me",
			[]string{"created_at", "full_name", "id", "is_admin", "require_password_change", "updated_at", "username"}, "0.x"},
		{"v0.7.1", "/v1/users/me", "/v2/users/me",
			[]string{"created_at", "full_name", "id", "is_admin", "require_password_change", "source", "updated_at", "username"}, "0.7.1"},
		{"v2.0.1", "/v2/users/me", "/v1/users/me",
			[]string{"avatar_url", "cluster_id", "created_at", "full_name", "id", "is_active", "is_admin", "is_system",
				"require_password_change", "role", "source", "updated_at", "username", "worker_id"}, "2.x"},
	}
	for _, tc := range tests {
		t.Run(tc.version, func(t *testing.T) {
			s := New(t, Options{Version: tc.version})
			s.AddUser("alice", "S3cret-Pa55!", "Alice", false, true)

			status, body := get(t, s.URL()+"/version", "", "", false)
			if status != http.StatusOK || body["version"] != tc.version {
				t.Errorf("GET /version = %d %v, want 200 with version %q", status, body, tc.version)
			}
			status, body = get(t, s.URL()+tc.route, "alice", "S3cret-Pa55!", true)
			if status != http.StatusOK {
				t.Fatalf("GET %s = %d %v, want 200", tc.route, status, body)
			}
			if diff := cmp.Diff(tc.wantKeys, keys(body)); diff != "" {
				t.Errorf("%s profile keys (-want +got):\n%s", tc.wantShape, diff)
			}
			status, body = get(t, s.URL()+tc.route, "alice", "wrong", true)
			want := map[string]any{"code": float64(401), "reason": "Unauthorized", "message": "Invalid authentication credentials"}
			if status != http.StatusUnauthorized || !cmp.Equal(body, want) {
				t.Errorf("wrong password: %d %v, want 401 %v", status, body, want)
			}
			status, body = get(t, s.URL()+tc.wrong, "alice", "S3cret-Pa55!", true)
			if status != http.StatusNotFound || body["detail"] != "Not Found" {
				t.Errorf("GET %s = %d %v, want 404 {detail: Not Found}", tc.wrong, status, body)
			}
		})
	}
}

func TestFastAPIBasicParsing(t *testing.T) {
	s := New(t, Options{})
	s.AddUser("alice", "S3cret-Pa55!", "Alice", false, true)
	for _, h := range []string{
		"Basic " + base64.StdEncoding.EncodeToString([]byte("alice:Pässword")), // not ASCII
		"Basic " + base64.StdEncoding.EncodeToString([]byte("alice")),          // no colon
		"Basic !!!",
	} {
		req, _ := http.NewRequest(http.MethodGet, s.URL()+"/v2/users/me", nil)
		req.Header.Set("Authorization", h)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || string(b) != `{"detail":"Invalid authentication credentials"}` {
			t.Errorf("%q: %d %s, want FastAPI's 401", h, resp.StatusCode, b)
		}
		if got := resp.Header.Get("WWW-Authenticate"); got != "Basic" {
			t.Errorf("%q: WWW-Authenticate = %q, want Basic", h, got)
		}
	}
}

func TestFirstAdminFallback(t *testing.T) {
	s := New(t, Options{Version: "v2.0.1"})
	s.AddUser("root", "R00t-Pa55!", "Root", true, true)
	s.AddUser("alice", "S3cret-Pa55!", "Alice", false, true)
	s.AnswerFirstAdminToLocalhost(true)
	for _, tc := range []struct {
		username, password string
		auth               bool
		want               string
	}{
		{"alice", "wrong", true, "root"},
		{"nobody", "x", true, "root"},
		{"", "", false, "root"},
		{"alice", "S3cret-Pa55!", true, "alice"}, // real credentials still win
	} {
		status, body := get(t, s.URL()+"/v2/users/me", tc.username, tc.password, tc.auth)
		if status != http.StatusOK || body["username"] != tc.want {
			t.Errorf("%s/%s: %d %v, want 200 as %s", tc.username, tc.password, status, body, tc.want)
		}
	}

	// A deactivated first admin makes the fallback a 401 of its own.
	d := New(t, Options{Version: "v2.0.1"})
	d.AddUser("root", "R00t-Pa55!", "Root", true, false)
	d.AnswerFirstAdminToLocalhost(true)
	status, body := get(t, d.URL()+"/v2/users/me", "x", "y", true)
	if status != http.StatusUnauthorized || body["message"] != "User account is deactivated" {
		t.Errorf("deactivated first admin: %d %v, want 401 User account is deactivated", status, body)
	}
}

func TestDeactivatedUserIs401(t *testing.T) {
	s := New(t, Options{Version: "v2.2.0"})
	s.AddUser("dave", "D4ve-Pa55!", "Dave", false, false)
	status, body := get(t, s.URL()+"/v2/users/me", "dave", "D4ve-Pa55!", true)
	if status != http.StatusUnauthorized || body["message"] != "Invalid authentication credentials" {
		t.Errorf("deactivated user: %d %v, want 401 Invalid authentication credentials", status, body)
	}
}

func getList(t *testing.T, url, key string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: body is not a JSON object: %v", url, err)
	}
	return resp.StatusCode, body
}

// TestUserListWireFormat: GET /users answers UsersPublic pages, newest
// user first, to an active admin's API key only, and refuses page sizes
// FastAPI's ListParams refuses.
func TestUserListWireFormat(t *testing.T) {
	s := New(t, Options{Version: "v2.0.1"})
	s.AddUser("admin", "Adm1n-Pa55word!", "Admin", true, true)
	s.AddUser("alice", "Al1ce-Pa55word!", "", false, true)
	s.AddUser("bob", "B0b-Pa55word!", "", false, false)
	s.AddAPIKey("admin", "gpustack_admin_key")
	s.AddAPIKey("alice", "gpustack_alice_key")

	status, body := getList(t, s.URL()+"/v2/users?page=1&perPage=2", "gpustack_admin_key")
	if status != http.StatusOK {
		t.Fatalf("status = %d (%v), want 200", status, body)
	}
	if got := keys(body); !slices.Equal(got, []string{"items", "pagination"}) {
		t.Errorf("keys = %v, want items and pagination", got)
	}
	want := map[string]any{"page": 1.0, "perPage": 2.0, "total": 3.0, "totalPage": 2.0}
	if diff := cmp.Diff(want, body["pagination"]); diff != "" {
		t.Errorf("pagination (-want +got):\n%s", diff)
	}
	var names []any
	var active []any
	for _, it := range body["items"].([]any) {
		names = append(names, it.(map[string]any)["username"])
		active = append(active, it.(map[string]any)["is_active"])
	}
	if !slices.Equal(names, []any{"bob", "alice"}) || !slices.Equal(active, []any{false, true}) {
		t.Errorf("page 1 = %v (active %v), want bob (inactive), alice: newest first", names, active)
	}
	if _, body := getList(t, s.URL()+"/v2/users?page=2&perPage=2", "gpustack_admin_key"); len(body["items"].([]any)) != 1 {
		t.Errorf("page 2 items = %v, want admin alone", body["items"])
	}
	s.DeleteUser("bob")
	if _, body := getList(t, s.URL()+"/v2/users", "gpustack_admin_key"); body["pagination"].(map[string]any)["total"] != 2.0 {
		t.Errorf("after DeleteUser pagination = %v, want total 2", body["pagination"])
	}

	for _, tc := range []struct {
		name, query, key string
		want             int
	}{
		{"no key", "", "", http.StatusUnauthorized},
		{"unknown key", "", "gpustack_other", http.StatusUnauthorized},
		{"non-admin key", "", "gpustack_alice_key", http.StatusForbidden},
		{"page 0", "?page=0", "gpustack_admin_key", http.StatusUnprocessableEntity},
		{"perPage 101", "?perPage=101", "gpustack_admin_key", http.StatusUnprocessableEntity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := getList(t, s.URL()+"/v2/users"+tc.query, tc.key); status != tc.want {
				t.Errorf("status = %d (%v), want %d", status, body, tc.want)
			}
		})
	}
	s.UpdateUser("admin", "Admin", true, false)
	if status, _ := getList(t, s.URL()+"/v2/users", "gpustack_admin_key"); status != http.StatusUnauthorized {
		t.Errorf("key of a deactivated admin: status = %d, want 401", status)
	}
	if status, _ := getList(t, s.URL()+"/v1/users", "gpustack_admin_key"); status != http.StatusNotFound {
		t.Errorf("/v1/users on 2.x: status = %d, want 404", status)
	}
}
