package main

import (
	"net/http"
	"slices"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/global"
	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/google/go-cmp/cmp"

	"authfn/functions"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

// TestTemplateRoutesAreTheRunnersRoutes: template.yaml routes exactly what
// the local runner serves, and each function exactly its own group's
// routes, so what works locally is what is deployed.
func TestTemplateRoutesAreTheRunnersRoutes(t *testing.T) {
	tpl := openTemplate(t)
	a := testenv.New(t).App
	groups := map[string]func(web.Router){}
	for _, g := range functions.Groups() {
		groups[g.Function] = func(r web.Router) { g.Register(r, a) }
	}
	fns := tpl.GetAllServerlessFunctionResources()
	var all []string
	for name, fn := range fns {
		var deployed []string
		for _, ev := range fn.Events {
			if h := ev.Properties.HttpApiEvent; h != nil {
				if h.ApiId == nil || *h.ApiId != "Api" {
					t.Errorf("%s: an HttpApi event without ApiId would create a second API", name)
				}
				deployed = append(deployed, *h.Method+" "+*h.Path)
			}
		}
		register, ok := groups[name]
		if !ok {
			if len(deployed) > 0 {
				t.Errorf("%s routes %v but no group registers them", name, deployed)
			}
			continue
		}
		rr := &web.RouteRecorder{Mux: http.NewServeMux()}
		register(rr)
		slices.Sort(deployed)
		slices.Sort(rr.Patterns)
		if diff := cmp.Diff(rr.Patterns, deployed); diff != "" {
			t.Errorf("%s: template routes differ from its group's (-group +template):\n%s", name, diff)
		}
		all = append(all, deployed...)
	}
	for name := range groups {
		if _, ok := fns[name]; !ok {
			t.Errorf("group %s has no function in template.yaml", name)
		}
	}
	served := functions.Routes(a)
	slices.Sort(served)
	slices.Sort(all)
	if diff := cmp.Diff(served, all); diff != "" {
		t.Errorf("template routes differ from the local runner's (-runner +template):\n%s", diff)
	}
}

// TestTemplateShape checks what the design asks of the template that
// cfn-lint does not: runtime, architecture, handler, build method, the
// schedule, and that the functions wait for the migrations.
func TestTemplateShape(t *testing.T) {
	tpl := openTemplate(t)
	g, ok := tpl.Globals["Function"].(*global.Function)
	if !ok {
		t.Fatal("template.yaml has no Globals.Function")
	}
	if g.Runtime == nil || *g.Runtime != "provided.al2023" || g.Handler == nil || *g.Handler != "bootstrap" ||
		g.Architectures == nil || !slices.Equal(*g.Architectures, []string{"arm64"}) {
		t.Errorf("Globals.Function: runtime/handler/architectures = %v/%v/%v, want provided.al2023/bootstrap/[arm64]", g.Runtime, g.Handler, g.Architectures)
	}
	for name, fn := range tpl.GetAllServerlessFunctionResources() {
		if fn.Runtime != nil || fn.Handler != nil || fn.Architectures != nil {
			t.Errorf("%s overrides the global runtime, handler or architecture", name)
		}
		if fn.AWSCloudFormationMetadata["BuildMethod"] != "makefile" {
			t.Errorf("%s: BuildMethod = %v, want makefile", name, fn.AWSCloudFormationMetadata["BuildMethod"])
		}
		if name != "MigrateFunction" && !slices.Contains(fn.AWSCloudFormationDependsOn, "Migrations") {
			t.Errorf("%s does not depend on Migrations: it could serve before the schema is there", name)
		}
	}
	cleanup := tpl.GetAllServerlessFunctionResources()["CleanupFunction"]
	found := false
	for _, ev := range cleanup.Events {
		if s := ev.Properties.ScheduleEvent; s != nil && s.Schedule == "rate(15 minutes)" {
			found = true
		}
	}
	if !found {
		t.Error("CleanupFunction has no rate(15 minutes) schedule")
	}
}

// openTemplate parses template.yaml, leaving each Ref as the name it
// refers to so that a test can see which API an event is attached to.
func openTemplate(t *testing.T) *cloudformation.Template {
	t.Helper()
	tpl, err := goformation.OpenWithOptions("../template.yaml", &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref": func(_ string, input any, template any) any {
				// A parameter resolves to its default, as at deploy time.
				name, _ := input.(string)
				if tm, ok := template.(map[string]any); ok {
					if ps, ok := tm["Parameters"].(map[string]any); ok {
						if p, ok := ps[name].(map[string]any); ok {
							return p["Default"]
						}
					}
				}
				return name
			},
		},
	})
	if err != nil {
		t.Fatalf("parse template.yaml: %v", err)
	}
	return tpl
}
