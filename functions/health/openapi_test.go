package health_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"authfn/pkg/apidoc"
	"authfn/pkg/testenv"
)

// TestOpenAPIServed: the document is public, served byte for byte as
// embedded, cacheable, and an OpenAPI 3.1.0 document. (That it lists
// exactly the routes the runner serves is local/openapi_test.go's job.)
func TestOpenAPIServed(t *testing.T) {
	env := testenv.New(t)
	c := serve(t, env.Auth.Maintenance)
	resp := c.Do("GET", "/api/auth/v2/openapi.json", nil).Want(200)
	for h, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "public, max-age=300"} {
		if got := resp.Header().Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if !bytes.Equal(resp.Body.Bytes(), apidoc.JSON()) {
		t.Error("served bytes differ from the embedded document")
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Servers []struct{ URL string }    `json:"servers"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	resp.JSON(&doc)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/api/auth/v2" {
		t.Errorf("servers = %+v, want the one base path /api/auth/v2", doc.Servers)
	}
	if _, ok := doc.Paths["/openapi.json"]["get"]; !ok {
		t.Error("the document does not list itself")
	}
	c.Do("POST", "/api/auth/v2/openapi.json", nil).Want(405, "method_not_allowed")
	if !json.Valid(apidoc.JSON()) {
		t.Error("embedded document is not JSON")
	}
}
