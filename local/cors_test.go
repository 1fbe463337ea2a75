package main

import (
	"os"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"authfn/pkg/web"
)

// TestTemplateCORSIsTheMiddlewares: in AWS the HTTP API answers CORS
// preflights itself (an OPTIONS request matches no route), so the
// template's CorsConfiguration must allow exactly what the middleware
// allows locally and on every answer.
func TestTemplateCORSIsTheMiddlewares(t *testing.T) {
	raw, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	cors := lookup(t, doc.Content[0], "Resources", "Api", "Properties", "CorsConfiguration")
	// !If [HasCors, {...}, !Ref AWS::NoValue]: the mapping is the second item.
	if cors.Tag != "!If" || len(cors.Content) != 3 {
		t.Fatalf("CorsConfiguration is not an !If of three items: %v", cors.Tag)
	}
	m := cors.Content[1]
	list := func(key string) []string {
		var out []string
		for _, n := range lookup(t, m, key).Content {
			out = append(out, n.Value)
		}
		return out
	}
	maxAge, _ := strconv.Atoi(lookup(t, m, "MaxAge").Value)
	got := web.CORSPolicy{AllowMethods: list("AllowMethods"), AllowHeaders: list("AllowHeaders"), ExposeHeaders: list("ExposeHeaders"), MaxAge: maxAge}
	if diff := cmp.Diff(web.CORS(), got); diff != "" {
		t.Errorf("template.yaml's CorsConfiguration differs from web.CORS() (-code +template):\n%s", diff)
	}
}

// lookup walks mapping keys from n, failing the test if one is missing.
func lookup(t *testing.T, n *yaml.Node, keys ...string) *yaml.Node {
	t.Helper()
	for _, k := range keys {
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				n, found = n.Content[i+1], true
				break
			}
		}
		if !found {
			t.Fatalf("template.yaml has no %s", k)
		}
	}
	return n
}
