package migrate_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"authfn/functions/migrate"
	"authfn/pkg/app"
	"authfn/pkg/testenv"
)

// newSetup opens the migration step as its Lambda does: PostgreSQL only,
// with nothing in the environment but the database and the admin settings
// (no REDIS_URL, no JWT_SECRET).
func newSetup(t *testing.T) migrate.Setup {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL": testenv.EmptyPostgresURL(t), "ADMIN_PASSWORD": "first admin password", "BCRYPT_COST": "10",
	}
	setup, closeDB, err := app.OpenSetup(t.Context(), func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeDB)
	return setup
}

func TestDirectInvocation(t *testing.T) {
	setup := newSetup(t)
	h := migrate.Handler(setup)
	out, err := h(context.Background(), json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	r := out.(app.SetupResult)
	if len(r.MigrationsApplied) == 0 || !r.AdminCreated {
		t.Errorf("first run = %+v, want migrations applied and the admin created", r)
	}
	out, err = h(context.Background(), json.RawMessage(`{"action":"migrate"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r := out.(app.SetupResult); len(r.MigrationsApplied) != 0 || r.AdminCreated {
		t.Errorf("second run = %+v, want nothing to do", r)
	}
}

// TestCustomResource: CloudFormation's events get their answer at the
// presigned URL; Delete never touches the schema.
func TestCustomResource(t *testing.T) {
	setup := newSetup(t)
	var mu sync.Mutex
	var replies []map[string]any
	cfnEndpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		mu.Lock()
		replies = append(replies, m)
		mu.Unlock()
	}))
	defer cfnEndpoint.Close()
	h := migrate.Handler(setup)
	ran := 0
	counting := migrate.Handler(func(ctx context.Context) (app.SetupResult, error) { ran++; return setup(ctx) })
	for _, tc := range []struct {
		kind    string
		handler func(context.Context, json.RawMessage) (any, error)
	}{{"Create", h}, {"Update", h}, {"Delete", counting}} {
		ev := map[string]any{
			"RequestType": tc.kind, "ResponseURL": cfnEndpoint.URL + "/reply", "StackId": "arn:aws:cloudformation:eu-west-1:1:stack/authfn/x",
			"RequestId": "req-" + tc.kind, "LogicalResourceId": "Migrations", "ResourceType": "Custom::Migrations",
			"PhysicalResourceId": "authfn-schema", "ResourceProperties": map[string]any{"ServiceToken": "arn"},
		}
		raw, _ := json.Marshal(ev)
		if _, err := tc.handler(context.Background(), raw); err != nil {
			t.Fatalf("%s: %v", tc.kind, err)
		}
	}
	if ran != 0 {
		t.Errorf("Delete ran the migrations")
	}
	if len(replies) != 3 {
		t.Fatalf("%d replies to CloudFormation, want 3", len(replies))
	}
	for _, r := range replies {
		if r["Status"] != "SUCCESS" || r["PhysicalResourceId"] != "authfn-schema" {
			t.Errorf("reply %v, want SUCCESS for authfn-schema", r)
		}
	}
}
