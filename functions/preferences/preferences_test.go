package preferences_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
	"authfn/pkg/storetest"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

const password = "correct horse battery"

func serve(t *testing.T, env *testenv.Env) *testenv.HTTP {
	return env.Serve(t, web.Options{}, "LoginFunction", "PreferencesFunction").HTTP(t)
}

func setup(t *testing.T) (*testenv.Env, *testenv.HTTP, []string) {
	env := testenv.New(t)
	env.CreateUser(t, "alice", password, false)
	s := env.Serve(t, web.Options{}, "LoginFunction", "PreferencesFunction")
	return env, s.HTTP(t), testenv.Bearer(s.Login(t, "alice", password).AccessToken)
}

type prefs struct {
	Preferences map[string]any `json:"preferences"`
}

func TestPreferencesMerge(t *testing.T) {
	_, c, bearer := setup(t)
	var got prefs
	c.Do("GET", "/api/auth/v2/preferences", nil, bearer...).Want(200).JSON(&got)
	if got.Preferences == nil || len(got.Preferences) != 0 {
		t.Fatalf("fresh preferences = %v, want {}", got.Preferences)
	}
	steps := []struct {
		body string
		want map[string]any
	}{
		{`{"theme":"dark","ui.size":12,"langs":["en","de"]}`, map[string]any{"theme": "dark", "ui.size": 12.0, "langs": []any{"en", "de"}}},
		// Merge: other keys stay; a value is replaced whole, not deep-merged.
		{`{"theme":"light","nested":{"a":{"b":null}}}`, map[string]any{"theme": "light", "ui.size": 12.0, "langs": []any{"en", "de"}, "nested": map[string]any{"a": map[string]any{"b": nil}}}},
		// null deletes; deleting a key that is not there is no error.
		{`{"langs":null,"never-set":null}`, map[string]any{"theme": "light", "ui.size": 12.0, "nested": map[string]any{"a": map[string]any{"b": nil}}}},
		{`{}`, map[string]any{"theme": "light", "ui.size": 12.0, "nested": map[string]any{"a": map[string]any{"b": nil}}}},
		{`{"unicode":"ünï ✓","b":true,"f":1.5e3,"zero":0,"empty":""}`, map[string]any{"theme": "light", "ui.size": 12.0, "nested": map[string]any{"a": map[string]any{"b": nil}},
			"unicode": "ünï ✓", "b": true, "f": 1500.0, "zero": 0.0, "empty": ""}},
	}
	for i, s := range steps {
		got = prefs{} // decoding into a map adds to it; start empty each time
		c.Do("POST", "/api/auth/v2/preferences", s.body, bearer...).Want(200).JSON(&got)
		if diff := cmp.Diff(s.want, got.Preferences); diff != "" {
			t.Fatalf("step %d: POST answered (-want +got):\n%s", i, diff)
		}
		got = prefs{}
		c.Do("GET", "/api/auth/v2/preferences", nil, bearer...).Want(200).JSON(&got)
		if diff := cmp.Diff(s.want, got.Preferences); diff != "" {
			t.Fatalf("step %d: GET after POST (-want +got):\n%s", i, diff)
		}
	}
}

// TestPreferencesBadInputLosesNothing: every refused request leaves the
// stored preferences exactly as they were.
func TestPreferencesBadInputLosesNothing(t *testing.T) {
	_, c, bearer := setup(t)
	c.Do("POST", "/api/auth/v2/preferences", `{"keep":"me"}`, bearer...).Want(200)
	big := strings.Repeat("x", 40000)
	c.Do("POST", "/api/auth/v2/preferences", `{"half":"`+big+`"}`, bearer...).Want(200)
	cases := []struct {
		name   string
		body   string
		ctype  string
		status int
		code   string
	}{
		{"key with space", `{"bad key":1,"ok":2}`, "", 422, "validation_failed"},
		{"key with slash", `{"a/b":1}`, "", 422, "validation_failed"},
		{"key with brace", `{"{u:1}":1}`, "", 422, "validation_failed"},
		{"empty key", `{"":1}`, "", 422, "validation_failed"},
		{"65-char key", `{"` + strings.Repeat("k", 65) + `":1}`, "", 422, "validation_failed"},
		{"NUL in value", `{"ok":"a\u0000b"}`, "", 422, "validation_failed"},
		{"NUL in nested key", `{"ok":{"a\u0000":1}}`, "", 422, "validation_failed"},
		{"repeated key", `{"theme":"dark","theme":"light"}`, "", 400, "invalid_request"},
		{"repeated nested key", `{"ok":{"a":1,"a":2}}`, "", 400, "invalid_request"},
		{"merged over 64 KiB", `{"more":"` + big + `"}`, "", 422, "validation_failed"},
		// Valid JSON that PostgreSQL's JSONB cannot hold.
		{"lone surrogate escape", `{"ok":"\ud800"}`, "", 422, "validation_failed"},
		{"number out of range", `{"ok":1e1000000}`, "", 422, "validation_failed"},
		{"array", `[1,2]`, "", 400, "invalid_request"},
		{"string", `"theme"`, "", 400, "invalid_request"},
		{"null", `null`, "", 400, "invalid_request"},
		{"malformed", `{"a":`, "", 400, "invalid_request"},
		{"duplicate values", `{"a":1}{"b":2}`, "", 400, "invalid_request"},
		{"body over 64 KiB", `{"a":"` + strings.Repeat("y", 70000) + `"}`, "", 413, "payload_too_large"},
		{"form", `a=1`, "application/x-www-form-urlencoded", 415, "unsupported_media_type"},
		{"not utf-8", "{\"a\":\"\xff\"}", "", 400, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := bearer
			if tc.ctype != "" {
				h = append(append([]string{}, bearer...), "Content-Type", tc.ctype)
			}
			c.Do("POST", "/api/auth/v2/preferences", tc.body, h...).Want(tc.status, tc.code)
		})
	}
	var got prefs
	c.Do("GET", "/api/auth/v2/preferences", nil, bearer...).Want(200).JSON(&got)
	if len(got.Preferences) != 2 || got.Preferences["keep"] != "me" || got.Preferences["half"] != big {
		t.Errorf("after refused requests: %d keys, want keep and half untouched", len(got.Preferences))
	}
	// Deleting makes room again.
	c.Do("POST", "/api/auth/v2/preferences", `{"half":null,"more":"`+big+`"}`, bearer...).Want(200)
}

func TestPreferencesArePerUser(t *testing.T) {
	env, c, alice := setup(t)
	env.CreateUser(t, "bob", password, false)
	var p auth.TokenPair
	c.Do("POST", "/api/auth/v2/login", map[string]string{"username": "bob", "password": password}).Want(200).JSON(&p)
	bob := testenv.Bearer(p.AccessToken)
	c.Do("POST", "/api/auth/v2/preferences", `{"theme":"dark"}`, alice...).Want(200)
	var got prefs
	c.Do("GET", "/api/auth/v2/preferences", nil, bob...).Want(200).JSON(&got)
	if len(got.Preferences) != 0 {
		t.Errorf("bob sees %v", got.Preferences)
	}
	c.Do("GET", "/api/auth/v2/preferences", nil).Want(401, "invalid_token")
	c.Do("POST", "/api/auth/v2/preferences", `{"theme":"x"}`).Want(401, "invalid_token")
	c.Do("DELETE", "/api/auth/v2/preferences", nil, alice...).Want(405, "method_not_allowed")
}

// TestPreferencesConcurrentMerges: merges of different keys at the same
// time all land (no lost update).
func TestPreferencesConcurrentMerges(t *testing.T) {
	_, c, bearer := setup(t)
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Go(func() {
			b, _ := json.Marshal(map[string]int{"k" + string(rune('a'+i)): i})
			c.Do("POST", "/api/auth/v2/preferences", b, bearer...).Want(200)
		})
	}
	wg.Wait()
	var got prefs
	c.Do("GET", "/api/auth/v2/preferences", nil, bearer...).Want(200).JSON(&got)
	if len(got.Preferences) != 12 {
		t.Errorf("%d keys after 12 concurrent merges, want 12: %v", len(got.Preferences), got.Preferences)
	}
}

func TestPreferencesStoreDown(t *testing.T) {
	env, _, bearer := setup(t)
	c := serve(t, env.Down(t, "postgres"))
	start := time.Now()
	c.Do("GET", "/api/auth/v2/preferences", nil, bearer...).Want(503, "unavailable")
	c.Do("POST", "/api/auth/v2/preferences", `{"a":1}`, bearer...).Want(503, "unavailable")
	if time.Since(start) > 10*time.Second {
		t.Errorf("two requests took %s with PostgreSQL down", time.Since(start))
	}

	serve(t, env.Down(t, "redis")).Do("POST", "/api/auth/v2/preferences", `{"a":1}`, bearer...).Want(503, "unavailable")
	var got prefs
	serve(t, env).Do("GET", "/api/auth/v2/preferences", nil, bearer...).Want(200).JSON(&got)
	if len(got.Preferences) != 0 {
		t.Errorf("a refused write landed: %v", got.Preferences)
	}
}

// manyKeys is a body of n keys k0000, k0001, ... all set to value.
func manyKeys(n int, value string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%04d":%s`, i, value)
	}
	b.WriteByte('}')
	return b.String()
}

// fieldsOf lists the fields a 422 names.
func fieldsOf(r *testenv.Response) []string {
	var out []string
	for _, e := range r.Problem().Errors {
		out = append(out, e.Field)
	}
	return out
}

// TestPreferencesHugeNumbersRefused is the audit's finding: 1000 keys of
// 1e131071 are 16 KB posted, but PostgreSQL prints each number in full
// (131,072 digits), so every later GET answered 131 MB. Such a number is
// refused, with its key named, and nothing is stored.
func TestPreferencesHugeNumbersRefused(t *testing.T) {
	_, c, bearer := setup(t)
	c.Do("POST", "/api/auth/v2/preferences", `{"keep":"me"}`, bearer...).Want(200)

	body := manyKeys(1000, "1e131071")
	if len(body) > web.MaxBodyBytes {
		t.Fatalf("body is %d bytes, over the body limit: not the finding", len(body))
	}
	r := c.Do("POST", "/api/auth/v2/preferences", body, bearer...).Want(422, "validation_failed")
	if f := fieldsOf(r); len(f) != 1000 || f[0] != "k0000" || f[999] != "k0999" {
		t.Errorf("422 names %d fields (%.3v...), want all 1000 keys", len(f), f)
	}
	get := c.Do("GET", "/api/auth/v2/preferences", nil, bearer...).Want(200)
	if get.Body.Len() > 100 {
		t.Fatalf("GET after the refused request is %d bytes", get.Body.Len())
	}
	var got prefs
	get.JSON(&got)
	if diff := cmp.Diff(map[string]any{"keep": "me"}, got.Preferences); diff != "" {
		t.Errorf("preferences after the refused request (-want +got):\n%s", diff)
	}
}

// TestPreferencesNumberBound: a number may be at most 40 characters when
// written out in full, the way PostgreSQL prints it; its exponent does not
// let it be longer.
func TestPreferencesNumberBound(t *testing.T) {
	_, c, bearer := setup(t)
	c.Do("POST", "/api/auth/v2/preferences", `{"keep":"me"}`, bearer...).Want(200)
	refused := storetest.LongNumbers()
	for key, v := range refused {
		// Not subtests: c fails the test that made it.
		r := c.Do("POST", "/api/auth/v2/preferences", `{"`+key+`":`+v+`,"fine":1}`, bearer...)
		if r.Code != 422 || r.Problem().Code != "validation_failed" {
			t.Errorf("%s = %.60s: status %d, body %.200s; want 422 validation_failed", key, v, r.Code, r.Body)
			continue
		}
		if f := fieldsOf(r); len(f) != 1 || f[0] != key {
			t.Errorf("%s: 422 names %v, want [%s]", key, f, key)
		}
	}
	var got prefs
	c.Do("GET", "/api/auth/v2/preferences", nil, bearer...).Want(200).JSON(&got)
	if diff := cmp.Diff(map[string]any{"keep": "me"}, got.Preferences); diff != "" {
		t.Errorf("after refused numbers (-want +got):\n%s", diff)
	}

	// At the bound: 40 characters written out.
	accepted := storetest.BoundNumbers()
	c.Do("POST", "/api/auth/v2/preferences", object(accepted), bearer...).Want(200)
	want := decodeAll(t, accepted)
	want["keep"] = "me"
	got = prefs{}
	c.Do("GET", "/api/auth/v2/preferences", nil, bearer...).Want(200).JSON(&got)
	if diff := cmp.Diff(want, got.Preferences); diff != "" {
		t.Errorf("numbers at the bound (-want +got):\n%s", diff)
	}
}

// object is the JSON object of the given keys and raw values.
func object(kv map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for k, v := range kv {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", k, v)
	}
	b.WriteByte('}')
	return b.String()
}

// decodeAll decodes raw values as a client would (numbers as float64).
func decodeAll(t *testing.T, kv map[string]string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for k, v := range kv {
		var x any
		if err := json.Unmarshal([]byte(v), &x); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		out[k] = x
	}
	return out
}

// TestPreferencesRoundTrip: ordinary values come back as they were posted,
// byte for byte, although PostgreSQL reformats what it stores.
func TestPreferencesRoundTrip(t *testing.T) {
	_, c, bearer := setup(t)
	values := map[string]string{
		"int":       `42`,
		"neg.int":   `-17`,
		"int64.max": `9223372036854775807`,
		"float":     `3.14159`,
		"small":     `0.000123`,
		"scale":     `2.50`,
		"neg.float": `-2.5`,
		"zero":      `0`,
		"true":      `true`,
		"false":     `false`,
		"string":    `"hello \"world\" ✓"`,
		"array":     `[null,1,"x",[]]`,
		"object":    `{"a":1,"bc":[1.5,"x"],"def":{}}`,
	}
	c.Do("POST", "/api/auth/v2/preferences", object(values), bearer...).Want(200)
	var got struct {
		Preferences map[string]json.RawMessage `json:"preferences"`
	}
	c.Do("GET", "/api/auth/v2/preferences", nil, bearer...).Want(200).JSON(&got)
	if len(got.Preferences) != len(values) {
		t.Errorf("GET has %d keys, want %d", len(got.Preferences), len(values))
	}
	for k, v := range values {
		if string(got.Preferences[k]) != v {
			t.Errorf("%s = %s, want %s", k, got.Preferences[k], v)
		}
	}
}

// TestPreferencesLimitIsWhatGetReturns fills the preferences to the limit
// with many small keys whose numbers PostgreSQL prints longer than they
// were written (1e39 is 40 digits) and whose arrays it prints with spaces,
// and holds the GET body to MaxPreferenceBytes plus its envelope.
func TestPreferencesLimitIsWhatGetReturns(t *testing.T) {
	_, c, bearer := setup(t)
	values := []string{`1e39`, `[1,2.5e1,{"a":1e2}]`, `-1e-37`}
	next := 0
	// Batches halve on each refusal, down to single keys: the last refusal
	// leaves the stored preferences within one key of the limit.
	for batch := 256; batch >= 1; {
		kv := map[string]string{}
		for i := range batch {
			kv[fmt.Sprintf("n%05d", next+i)] = values[(next+i)%len(values)]
		}
		r := c.Do("POST", "/api/auth/v2/preferences", object(kv), bearer...)
		switch r.Code {
		case 200:
			next += batch
		case 422:
			if f := fieldsOf(r); len(f) != 1 || f[0] != "preferences" {
				t.Fatalf("POST of %d keys refused for %v, not for size", batch, f)
			}
			batch /= 2
		default:
			t.Fatalf("POST of %d keys: status %d: %s", batch, r.Code, r.Body)
		}
	}
	get := c.Do("GET", "/api/auth/v2/preferences", nil, bearer...).Want(200)
	envelope := len(`{"preferences":}` + "\n")
	const oneKey = 64 // a member here is at most 52 bytes as printed
	t.Logf("%d keys: GET body %d bytes", next, get.Body.Len())
	if n := get.Body.Len(); n > auth.MaxPreferenceBytes+envelope || n < auth.MaxPreferenceBytes+envelope-oneKey {
		t.Errorf("GET body with %d keys is %d bytes, want within %d of %d (%d and the envelope)",
			next, n, oneKey, auth.MaxPreferenceBytes+envelope, auth.MaxPreferenceBytes)
	}
}
