package main

import (
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/global"
	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"authfn/functions"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

// TestTemplateRoutesAreTheRunnersRoutes: template.yaml routes exactly what
// the local runner serves, and each function exactly its own group's
// routes, so what works locally is what is deployed. The routes are
// AWS::ApiGatewayV2::Route resources on the one API, each targeting a
// function's AWS_PROXY integration (payload 2.0), and each such function
// lets API Gateway invoke it from that API.
func TestTemplateRoutesAreTheRunnersRoutes(t *testing.T) {
	tpl := rawTemplate(t)
	a := testenv.New(t).App
	groups := map[string]func(web.Router){}
	for _, g := range functions.Groups() {
		groups[g.Function] = func(r web.Router) { g.Register(r, a) }
	}
	fns := tpl.resources("AWS::Serverless::Function")
	for name, fn := range fns {
		for ev, e := range asMap(prop(fn, "Events")) {
			if ty := asMap(e)["Type"]; ty == "HttpApi" || ty == "Api" {
				t.Errorf("%s: event %s is a SAM %s event: SAM would put the function into the API's definition, a cycle with JWT_ISSUER; declare a route", name, ev, ty)
			}
		}
	}
	integrations := tpl.resources("AWS::ApiGatewayV2::Integration")
	deployed := map[string][]string{}
	var all []string
	for name, r := range tpl.resources("AWS::ApiGatewayV2::Route") {
		key, _ := prop(r, "RouteKey").(string)
		if !isRef(prop(r, "ApiId"), "Api") {
			t.Errorf("route %s (%s) is not on the API", name, key)
		}
		target, _ := asMap(prop(r, "Target"))["Fn::Sub"].(string)
		integ, ok := strings.CutPrefix(target, "integrations/${")
		integ, ok2 := strings.CutSuffix(integ, "}")
		in, found := integrations[integ]
		if !ok || !ok2 || !found {
			t.Errorf("route %s (%s): target %v is no integration of the template", name, key, prop(r, "Target"))
			continue
		}
		fn := getAtt(prop(in, "IntegrationUri"), "Arn")
		if _, isFn := fns[fn]; !isFn || !isRef(prop(in, "ApiId"), "Api") ||
			prop(in, "IntegrationType") != "AWS_PROXY" || prop(in, "PayloadFormatVersion") != "2.0" {
			t.Errorf("integration %s: want an AWS_PROXY, payload 2.0 integration of a function on the API; got %v", integ, in["Properties"])
			continue
		}
		deployed[fn] = append(deployed[fn], key)
		all = append(all, key)
	}
	for fn := range deployed {
		if !tpl.invokableBy(fn, "${Api}/*") {
			t.Errorf("%s has routes but no AWS::Lambda::Permission letting apigateway.amazonaws.com invoke it from the API", fn)
		}
	}
	for name := range fns {
		register, ok := groups[name]
		if !ok {
			if len(deployed[name]) > 0 {
				t.Errorf("%s routes %v but no group registers them", name, deployed[name])
			}
			continue
		}
		rr := &web.RouteRecorder{Mux: http.NewServeMux()}
		register(rr)
		patterns := gatewayKeys(rr.Patterns)
		slices.Sort(deployed[name])
		if diff := cmp.Diff(patterns, deployed[name]); diff != "" {
			t.Errorf("%s: template routes differ from its group's (-group +template):\n%s", name, diff)
		}
	}
	for name := range groups {
		if _, ok := fns[name]; !ok {
			t.Errorf("group %s has no function in template.yaml", name)
		}
	}
	served := gatewayKeys(functions.Routes(a))
	slices.Sort(all)
	if diff := cmp.Diff(served, all); diff != "" {
		t.Errorf("template routes differ from the local runner's (-runner +template):\n%s", diff)
	}
}

// gatewayKeys writes ServeMux patterns as API Gateway route keys, sorted:
// a trailing wildcard {name...} is API Gateway's greedy {name+}.
func gatewayKeys(patterns []string) []string {
	keys := make([]string, len(patterns))
	for i, p := range patterns {
		if strings.HasSuffix(p, "...}") {
			p = strings.TrimSuffix(p, "...}") + "+}"
		}
		keys[i] = p
	}
	slices.Sort(keys)
	return keys
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
	static := map[string]bool{}
	for _, g := range functions.Groups() {
		static[g.Function] = g.Static
	}
	for name, fn := range tpl.GetAllServerlessFunctionResources() {
		if fn.Runtime != nil || fn.Handler != nil || fn.Architectures != nil {
			t.Errorf("%s overrides the global runtime, handler or architecture", name)
		}
		if fn.AWSCloudFormationMetadata["BuildMethod"] != "makefile" {
			t.Errorf("%s: BuildMethod = %v, want makefile", name, fn.AWSCloudFormationMetadata["BuildMethod"])
		}
		// A static group reads no store, so no schema: it need not wait.
		if name != "MigrateFunction" && !static[name] && !slices.Contains(fn.AWSCloudFormationDependsOn, "Migrations") {
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

	// sam build runs the Makefile's build-<LogicalId> for each function.
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for name := range tpl.GetAllServerlessFunctionResources() {
		if !regexp.MustCompile(`(?m)^build-` + name + `:`).Match(mk) {
			t.Errorf("the Makefile has no build-%s target: sam build would fail", name)
		}
	}
}

// TestTemplateAuthorizer: the Lambda authorizer is deployed for other
// stacks to use: API Gateway may invoke it from any API of the account
// and region, its ARN is an output exported under the stack's name, and
// it is not handed the database URL (it never calls PostgreSQL).
func TestTemplateAuthorizer(t *testing.T) {
	tpl := rawTemplate(t)
	fn, ok := tpl.resources("AWS::Serverless::Function")["AuthorizerFunction"]
	if !ok {
		t.Fatal("template.yaml has no AuthorizerFunction")
	}
	if ev := prop(fn, "Events"); ev != nil {
		t.Errorf("AuthorizerFunction has events %v: API Gateway calls it as an authorizer, not as a route", ev)
	}
	env := asMap(asMap(prop(fn, "Environment"))["Variables"])
	if !isRef(env["DATABASE_URL"], "AWS::NoValue") {
		t.Errorf("AuthorizerFunction: DATABASE_URL = %v, want it removed (AWS::NoValue): the authorizer never calls PostgreSQL", env["DATABASE_URL"])
	}
	if !tpl.invokableBy("AuthorizerFunction", "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:*") {
		t.Error("no AWS::Lambda::Permission lets apigateway.amazonaws.com invoke AuthorizerFunction from any API of the account")
	}
	out := asMap(asMap(tpl["Outputs"])["AuthorizerFunctionArn"])
	if getAtt(out["Value"], "Arn") != "AuthorizerFunction" {
		t.Errorf("output AuthorizerFunctionArn = %v, want AuthorizerFunction's ARN", out["Value"])
	}
	if name := asMap(asMap(out["Export"])["Name"])["Fn::Sub"]; name != "${AWS::StackName}-AuthorizerFunctionArn" {
		t.Errorf("output AuthorizerFunctionArn exported as %v, want ${AWS::StackName}-AuthorizerFunctionArn", name)
	}
}

// TestTemplateIssuer: every function's JWT_ISSUER is the public https URL
// of the base path, with no hand edit: the API's own URL by default, the
// custom domain's when DomainName is set, and the Issuer output says the
// same.
func TestTemplateIssuer(t *testing.T) {
	tpl := rawTemplate(t)
	for name, fn := range tpl.resources("AWS::Serverless::Function") {
		if v, ok := asMap(asMap(prop(fn, "Environment"))["Variables"])["JWT_ISSUER"]; ok {
			t.Errorf("%s sets its own JWT_ISSUER %v: every function must check the same iss", name, v)
		}
	}
	global := asMap(asMap(asMap(asMap(tpl["Globals"])["Function"])["Environment"])["Variables"])["JWT_ISSUER"]
	output := asMap(asMap(tpl["Outputs"])["Issuer"])["Value"]
	for _, c := range []struct {
		params map[string]string
		want   string
	}{
		{nil, "https://<Api>.execute-api.<AWS::Region>.<AWS::URLSuffix>/api/auth/v2"},
		{map[string]string{"DomainName": "auth.example.com"}, "https://auth.example.com/api/auth/v2"},
		{map[string]string{"DomainName": "auth.example.com", "DomainCertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"}, "https://auth.example.com/api/auth/v2"},
	} {
		if got := tpl.eval(t, global, c.params); got != c.want {
			t.Errorf("parameters %v: JWT_ISSUER = %q, want %q", c.params, got, c.want)
		}
		if got := tpl.eval(t, output, c.params); got != c.want {
			t.Errorf("parameters %v: output Issuer = %q, want %q", c.params, got, c.want)
		}
	}
	if name := asMap(asMap(asMap(asMap(tpl["Outputs"])["Issuer"])["Export"])["Name"])["Fn::Sub"]; name != "${AWS::StackName}-Issuer" {
		t.Errorf("output Issuer exported as %v, want ${AWS::StackName}-Issuer (other stacks' JWT authorizers import it)", name)
	}
	apiURL := tpl.eval(t, asMap(asMap(tpl["Outputs"])["ApiUrl"])["Value"], nil)
	if apiURL != tpl.eval(t, global, nil) {
		t.Errorf("ApiUrl %q differs from the default JWT_ISSUER", apiURL)
	}
}

// TestTemplateGPUStackAPIKey: GPUSTACK_API_KEY reaches the cleanup
// function alone (the only one that lists GPUStack's users), resolved from
// Secrets Manager, and only when GPUStackApiKeySecret names a secret; a
// rule refuses that secret without GPUStackUrl, which pkg/app would refuse
// at every start.
func TestTemplateGPUStackAPIKey(t *testing.T) {
	tpl := rawTemplate(t)
	if v, ok := asMap(asMap(asMap(asMap(tpl["Globals"])["Function"])["Environment"])["Variables"])["GPUSTACK_API_KEY"]; ok {
		t.Errorf("Globals set GPUSTACK_API_KEY %v: every function would hold the key", v)
	}
	found := false
	for name, fn := range tpl.resources("AWS::Serverless::Function") {
		v, ok := asMap(asMap(prop(fn, "Environment"))["Variables"])["GPUSTACK_API_KEY"]
		if name != "CleanupFunction" {
			if ok {
				t.Errorf("%s gets GPUSTACK_API_KEY %v; only CleanupFunction needs it", name, v)
			}
			continue
		}
		found = ok
		if got := tpl.eval(t, v, nil); ok && got != "<AWS::NoValue>" {
			t.Errorf("CleanupFunction: GPUSTACK_API_KEY = %q by default, want it unset", got)
		}
		secret := map[string]string{"GPUStackApiKeySecret": "authfn/gpustack-api-key"}
		if got, want := tpl.eval(t, v, secret), "{{resolve:secretsmanager:authfn/gpustack-api-key}}"; ok && got != want {
			t.Errorf("CleanupFunction: GPUSTACK_API_KEY = %q with a secret, want %q", got, want)
		}
	}
	if !found {
		t.Error("CleanupFunction has no GPUSTACK_API_KEY")
	}
	named := map[string]bool{}
	refs(asMap(tpl["Rules"])["GPUStackApiKeyNeedsUrl"], named)
	if !named["GPUStackApiKeySecret"] || !named["GPUStackUrl"] {
		t.Errorf("rule GPUStackApiKeyNeedsUrl names %v, want GPUStackApiKeySecret and GPUStackUrl", named)
	}
}

// TestTemplateHasNoDependencyCycle walks every Ref, GetAtt, Sub and
// DependsOn of the resources (the Globals' ones counted for each function,
// and a SAM HttpApi or Api event as the API depending on its function, as
// SAM's generated definition does): CloudFormation refuses a stack whose
// resources depend on each other in a circle.
func TestTemplateHasNoDependencyCycle(t *testing.T) {
	tpl := rawTemplate(t)
	if c := tpl.cycle(); c != nil {
		t.Fatalf("dependency cycle: %s", strings.Join(c, " -> "))
	}
	// The walk finds the cycle it exists to prevent: a SAM event on a
	// function whose environment names the API.
	broken := rawTemplate(t)
	login := asMap(asMap(broken["Resources"])["LoginFunction"])
	asMap(login["Properties"])["Events"] = map[string]any{
		"Login": map[string]any{"Type": "HttpApi", "Properties": map[string]any{"ApiId": map[string]any{"Ref": "Api"}}},
	}
	if broken.cycle() == nil {
		t.Fatal("a SAM HttpApi event with JWT_ISSUER naming the API: no cycle found, want Api -> LoginFunction -> Api")
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

// template is template.yaml as plain data: maps, lists and strings, each
// short-form intrinsic (!Ref, !Sub, ...) in its long form ({"Ref": ...}),
// so that tests can see exactly what a value refers to.
type template map[string]any

func rawTemplate(t *testing.T) template {
	t.Helper()
	b, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		t.Fatalf("parse template.yaml: %v", err)
	}
	return template(asMap(longForm(n.Content[0])))
}

// longForm turns a YAML node into plain data, expanding CloudFormation's
// short-form tags.
func longForm(n *yaml.Node) any {
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = longForm(n.Content[i+1])
		}
		v = m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			l = append(l, longForm(c))
		}
		v = l
	case yaml.AliasNode:
		return longForm(n.Alias)
	default:
		v = n.Value
	}
	tag, ok := strings.CutPrefix(n.Tag, "!")
	if !ok || strings.HasPrefix(tag, "!") { // no tag, or a standard one (!!str)
		return v
	}
	switch tag {
	case "Ref", "Condition":
		return map[string]any{tag: v}
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, _ := strings.Cut(s, ".")
			v = []any{res, attr}
		}
	}
	return map[string]any{"Fn::" + tag: v}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// prop is a resource's property.
func prop(resource any, name string) any { return asMap(asMap(resource)["Properties"])[name] }

func isRef(v any, name string) bool { return asMap(v)["Ref"] == name }

// getAtt returns the resource of a {"Fn::GetAtt": [resource, attr]}.
func getAtt(v any, attr string) string {
	l, _ := asMap(v)["Fn::GetAtt"].([]any)
	if len(l) != 2 || l[1] != attr {
		return ""
	}
	s, _ := l[0].(string)
	return s
}

// resources returns the template's resources of one type.
func (tpl template) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for name, r := range asMap(tpl["Resources"]) {
		if asMap(r)["Type"] == typ {
			out[name] = asMap(r)
		}
	}
	return out
}

// invokableBy reports whether an AWS::Lambda::Permission lets API Gateway
// invoke fn from the execute-api ARNs ending in sourceArnTail.
func (tpl template) invokableBy(fn, sourceArnTail string) bool {
	for _, p := range tpl.resources("AWS::Lambda::Permission") {
		name := prop(p, "FunctionName")
		if !isRef(name, fn) && getAtt(name, "Arn") != fn {
			continue
		}
		arn, _ := asMap(prop(p, "SourceArn"))["Fn::Sub"].(string)
		if prop(p, "Action") == "lambda:InvokeFunction" && prop(p, "Principal") == "apigateway.amazonaws.com" &&
			strings.HasPrefix(arn, "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:") &&
			strings.HasSuffix(arn, sourceArnTail) {
			return true
		}
	}
	return false
}

// subVar matches a ${Name} or ${Name.Attr} of Fn::Sub (not ${!Literal}).
var subVar = regexp.MustCompile(`\$\{([A-Za-z0-9:]+)(\.[A-Za-z0-9.]+)?\}`)

// eval renders a value with the parameters' defaults, overridden by
// params: a resource's Ref renders as <Name>, a pseudo parameter as
// <AWS::Name>. It knows the intrinsics the template's strings use.
func (tpl template) eval(t *testing.T, v any, params map[string]string) string {
	t.Helper()
	ref := func(name string) string {
		if p, ok := params[name]; ok {
			return p
		}
		if p, ok := asMap(tpl["Parameters"])[name].(map[string]any); ok {
			d, _ := p["Default"].(string)
			return d
		}
		return "<" + name + ">"
	}
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		for fn, arg := range v {
			switch fn {
			case "Ref":
				return ref(arg.(string))
			case "Fn::Sub":
				s, _ := arg.(string)
				return subVar.ReplaceAllStringFunc(s, func(m string) string { return ref(m[2 : len(m)-1]) })
			case "Fn::If":
				l := arg.([]any)
				if tpl.condition(t, l[0].(string), params) {
					return tpl.eval(t, l[1], params)
				}
				return tpl.eval(t, l[2], params)
			}
		}
	}
	t.Fatalf("eval: %v is not a value this test can render", v)
	return ""
}

// condition evaluates a named condition of the template.
func (tpl template) condition(t *testing.T, name string, params map[string]string) bool {
	t.Helper()
	var cond func(v any) bool
	cond = func(v any) bool {
		for fn, arg := range asMap(v) {
			l, _ := arg.([]any)
			switch fn {
			case "Condition":
				return tpl.condition(t, arg.(string), params)
			case "Fn::Equals":
				return tpl.eval(t, l[0], params) == tpl.eval(t, l[1], params)
			case "Fn::Not":
				return !cond(l[0])
			case "Fn::And":
				for _, c := range l {
					if !cond(c) {
						return false
					}
				}
				return true
			case "Fn::Or":
				return slices.ContainsFunc(l, cond)
			}
		}
		t.Fatalf("condition %s: %v is not one this test can evaluate", name, v)
		return false
	}
	c, ok := asMap(tpl["Conditions"])[name]
	if !ok {
		t.Fatalf("no condition %s", name)
	}
	return cond(c)
}

// refs collects the names v refers to through Ref, GetAtt and Sub.
func refs(v any, into map[string]bool) {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			refs(e, into)
		}
	case map[string]any:
		for k, arg := range v {
			switch k {
			case "Ref":
				s, _ := arg.(string)
				name, _, _ := strings.Cut(s, ".") // SAM's MigrateFunction.Version
				into[name] = true
			case "Fn::GetAtt":
				if l, ok := arg.([]any); ok && len(l) > 0 {
					s, _ := l[0].(string)
					into[s] = true
				}
			case "Fn::Sub":
				s, vars := arg, map[string]any{}
				if l, ok := arg.([]any); ok && len(l) == 2 {
					s, vars = l[0], asMap(l[1])
					refs(l[1], into)
				}
				str, _ := s.(string)
				for _, m := range subVar.FindAllStringSubmatch(str, -1) {
					if _, local := vars[m[1]]; !local {
						into[m[1]] = true
					}
				}
			default:
				refs(arg, into)
			}
		}
	}
}

// dependencies maps each resource to the resources it needs first.
func (tpl template) dependencies() map[string][]string {
	resources := asMap(tpl["Resources"])
	global := map[string]bool{}
	refs(asMap(tpl["Globals"])["Function"], global)
	deps := map[string][]string{}
	add := func(from, to string) {
		if _, ok := resources[to]; ok && !slices.Contains(deps[from], to) {
			deps[from] = append(deps[from], to)
		}
	}
	for name, r := range resources {
		r := asMap(r)
		seen := map[string]bool{}
		refs(r["Properties"], seen)
		if r["Type"] == "AWS::Serverless::Function" {
			for g := range global {
				seen[g] = true
			}
			for _, e := range asMap(prop(r, "Events")) {
				e := asMap(e)
				if ty := e["Type"]; ty == "HttpApi" || ty == "Api" {
					// SAM writes this function's ARN into the API's definition.
					api := map[string]bool{}
					refs(asMap(e["Properties"])["ApiId"], api)
					for a := range api {
						add(a, name)
					}
				}
			}
		}
		switch d := r["DependsOn"].(type) {
		case string:
			seen[d] = true
		case []any:
			for _, x := range d {
				s, _ := x.(string)
				seen[s] = true
			}
		}
		for to := range seen {
			add(name, to)
		}
	}
	return deps
}

// cycle returns a dependency cycle of the resources, or nil.
func (tpl template) cycle() []string {
	deps := tpl.dependencies()
	const (
		unvisited = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(n string) []string
	visit = func(n string) []string {
		state[n] = onPath
		path = append(path, n)
		for _, d := range deps[n] {
			switch state[d] {
			case onPath:
				i := slices.Index(path, d)
				return append(slices.Clone(path[i:]), d)
			case unvisited:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[n] = done
		return nil
	}
	names := make([]string, 0, len(asMap(tpl["Resources"])))
	for n := range asMap(tpl["Resources"]) {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if state[n] == unvisited {
			if c := visit(n); c != nil {
				return c
			}
		}
	}
	return nil
}
