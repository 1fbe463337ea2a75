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
