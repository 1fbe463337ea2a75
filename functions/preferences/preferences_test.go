package preferences_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
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
