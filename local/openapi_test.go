package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"authfn/functions"
	"authfn/pkg/apidoc"
	"authfn/pkg/auth"
	"authfn/pkg/testenv"
)

// TestOpenAPIListsEveryRoute holds the OpenAPI document and the local
// runner's routes to each other both ways: nothing is served that the
// document does not describe, and nothing is described that is not
// served. (The runner registers every group, as the Lambdas do between
// them.) The shapes of requests and answers are held by testenv's
// validator on every handler test.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	served := functions.Routes(testenv.New(t).App)
	// A trailing {name...} (the console's files) is, in the document, the
	// folder itself and one {name} segment: the files are flat, and a
	// deeper path is a 404.
	for i, r := range served {
		if prefix, ok := strings.CutSuffix(r, "...}"); ok {
			served[i] = prefix + "}"
			served = append(served, prefix[:strings.LastIndex(prefix, "/")+1])
		}
	}

	var doc struct {
		Servers []struct{ URL string }                `json:"servers"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(apidoc.JSON(), &doc); err != nil {
		t.Fatalf("parse the document: %v", err)
	}
	if len(doc.Servers) != 1 {
		t.Fatalf("servers = %+v, want one base path", doc.Servers)
	}
	base := doc.Servers[0].URL
	methods := []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	var documented []string
	for path, item := range doc.Paths {
		for key := range item {
			if slices.Contains(methods, key) { // skip "parameters", "summary"...
				documented = append(documented, strings.ToUpper(key)+" "+base+path)
			}
		}
	}
	slices.Sort(documented)
	slices.Sort(served)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("served but not in pkg/apidoc/openapi.json: %s", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("in pkg/apidoc/openapi.json but not served: %s", r)
		}
	}
	if len(served) != len(slices.Compact(slices.Clone(served))) {
		t.Errorf("a route is registered twice: %v", served)
	}
}

// TestOpenAPIEventTypes: the document's EventType, what GET /audit's type
// filter takes and every event carries, lists exactly the core's event
// types, each one explained in its description.
func TestOpenAPIEventTypes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				EventType struct {
					Enum        []string `json:"enum"`
					Description string   `json:"description"`
				} `json:"EventType"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(apidoc.JSON(), &doc); err != nil {
		t.Fatalf("parse the document: %v", err)
	}
	et := doc.Components.Schemas.EventType
	got, want := slices.Sorted(slices.Values(et.Enum)), slices.Sorted(slices.Values(auth.EventTypes()))
	if !slices.Equal(got, want) {
		t.Errorf("EventType enum = %v,\nwant auth.EventTypes() = %v", got, want)
	}
	for _, typ := range want {
		if !strings.Contains(et.Description, "`"+typ+"`") {
			t.Errorf("EventType's description does not explain %s", typ)
		}
	}
}
