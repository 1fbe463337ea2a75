//go:build lambdatest

package lambdatest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// functions are the template's functions (logical id) and the groups
// they are built from (build/<arch>/<group>/bootstrap).
var functions = []struct{ id, group string }{
	{"LoginFunction", "login"},
	{"UsersFunction", "users"},
	{"SessionsFunction", "sessions"},
	{"PreferencesFunction", "preferences"},
	{"HealthFunction", "health"},
	{"CleanupFunction", "cleanup"},
	{"MigrateFunction", "migrate"},
	{"AuthorizerFunction", "authorizer"},
	{"ConsoleFunction", "console"},
}

// lambdaEnv is the environment Lambda gives every function, plus vars.
// It is the function's whole environment: RIE hands its own on.
func lambdaEnv(name string, vars map[string]string) []string {
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"AWS_REGION=us-east-1",
		"AWS_LAMBDA_FUNCTION_NAME=" + name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		// RIE reads it too: the deadline in each invocation's context,
		// which cleanup sizes its work by. The template's API timeout.
		"AWS_LAMBDA_FUNCTION_TIMEOUT=10",
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env
}

// function is one function running under its own emulator.
type function struct {
	*emulator
}

// startFunction starts group's bootstrap under RIE with vars set and
// stops it when t ends, first logging everything RIE and the function
// wrote if t failed. It returns once RIE listens.
func startFunction(t *testing.T, name, group string, vars map[string]string) *function {
	t.Helper()
	rie := requireFile(t, riePath)
	bootstrap := requireFile(t, bootstrapPath(group))
	for attempt := 1; ; attempt++ {
		e, err := startEmulator(name, rie, bootstrap, lambdaEnv(name, vars))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err = e.waitListening(ctx)
		cancel()
		if errors.Is(err, errPortTaken) && attempt < 3 {
			e.stop()
			continue
		}
		if err != nil {
			e.stop()
			t.Fatalf("%s: %v\noutput of the emulator:\n%s", name, err, e.output())
		}
		t.Cleanup(func() {
			e.stop()
			if t.Failed() {
				t.Logf("%s: output of the emulator and the function:\n%s", name, e.output())
			}
		})
		return &function{e}
	}
}

// invoke sends event and returns the handler's result. An error payload,
// or anything but RIE's 200, fails t with the output of RIE and the
// function: RIE answers 200 when the handler fails too.
func (f *function) invoke(t *testing.T, event any) []byte {
	t.Helper()
	body, errType, errMsg := f.send(t, event)
	if errType != "" || errMsg != "" {
		t.Fatalf("%s: the handler failed: %s: %s\nevent: %s\noutput of the emulator and the function:\n%s",
			f.name, errType, errMsg, mustJSON(t, event), f.output())
	}
	return body
}

// invokeError sends event, which the handler must refuse, and returns the
// error payload's errorType and errorMessage.
func (f *function) invokeError(t *testing.T, event any) (errorType, errorMessage string) {
	t.Helper()
	body, errType, errMsg := f.send(t, event)
	if errType == "" && errMsg == "" {
		t.Fatalf("%s: event %s: got result %s, want an error payload", f.name, mustJSON(t, event), body)
	}
	return errType, errMsg
}

func (f *function) send(t *testing.T, event any) (body []byte, errorType, errorMessage string) {
	t.Helper()
	payload := mustJSON(t, event)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	status, body, err := f.emulator.invoke(ctx, payload)
	if err != nil {
		t.Fatalf("%s: invoke: %v\nevent: %s\noutput of the emulator and the function:\n%s", f.name, err, payload, f.output())
	}
	if status != http.StatusOK {
		t.Fatalf("%s: emulator status = %d, want 200; body %q\nevent: %s\noutput of the emulator and the function:\n%s",
			f.name, status, body, payload, f.output())
	}
	var e struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal(body, &e) == nil {
		return body, e.ErrorType, e.ErrorMessage
	}
	return body, "", ""
}

// response is the HTTP answer in a function's result.
type response struct {
	status int
	header http.Header
	body   []byte
}

// http invokes f with an HTTP event and decodes the answer from the
// result, whichever shape it has (HTTP API v2, REST v1 or ALB).
func (f *function) http(t *testing.T, event map[string]any) response {
	t.Helper()
	raw := f.invoke(t, event)
	var out struct {
		StatusCode        int                 `json:"statusCode"`
		Headers           map[string]string   `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Body              string              `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.StatusCode == 0 {
		t.Fatalf("%s: result %s is not an HTTP answer (%v)", f.name, raw, err)
	}
	r := response{status: out.StatusCode, header: http.Header{}, body: []byte(out.Body)}
	for k, v := range out.Headers {
		r.header.Set(k, v)
	}
	for k, vs := range out.MultiValueHeaders {
		r.header.Del(k) // the single-value map may repeat the first value
		for _, v := range vs {
			r.header.Add(k, v)
		}
	}
	if out.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(out.Body)
		if err != nil {
			t.Fatalf("%s: base64 body: %v", f.name, err)
		}
		r.body = b
	}
	return r
}

// do sends r to f through door and checks what every answer carries:
// X-Request-Id equal to the event's request id, and nosniff.
func (f *function) do(t *testing.T, door frontDoor, r request) response {
	t.Helper()
	event, id := door.event(r, door.sourceIP)
	resp := f.http(t, event)
	if got := resp.header.Get("X-Request-Id"); got != id {
		t.Errorf("%s %s through %s: X-Request-Id = %q, want %q (the event's request id)", r.method, r.path, door.name, got, id)
	}
	if got := resp.header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s %s through %s: X-Content-Type-Options = %q, want nosniff", r.method, r.path, door.name, got)
	}
	return resp
}

// expect fails t unless the answer has status want, showing the body.
func (r response) expect(t *testing.T, what string, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s: status = %d, want %d; body %s", what, r.status, want, r.body)
	}
}

// decode reads the JSON body into v.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.Contains(ct, "json") {
		t.Errorf("Content-Type = %q, want JSON", ct)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	if b, ok := v.(json.RawMessage); ok {
		return b
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
