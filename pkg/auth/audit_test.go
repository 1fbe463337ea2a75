package auth_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"authfn/pkg/auth"
)

// TestEventTypesListsEveryType: every Event* string constant of the
// package is in auth.EventTypes, once, so a type added anywhere in the
// core is one GET /audit accepts (and the OpenAPI test then asks for it
// in the document's EventType).
func TestEventTypesListsEveryType(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Event") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						declared = append(declared, v)
					}
				}
			}
		}
	}
	if len(declared) < 15 {
		t.Fatalf("found %d Event constants; the parse missed them", len(declared))
	}
	listed := auth.EventTypes()
	if len(slices.Compact(slices.Sorted(slices.Values(listed)))) != len(listed) {
		t.Errorf("EventTypes lists a type twice: %v", listed)
	}
	slices.Sort(declared)
	got := slices.Sorted(slices.Values(listed))
	if !slices.Equal(declared, got) {
		t.Errorf("EventTypes = %v,\nwant every Event constant: %v", got, declared)
	}
}
