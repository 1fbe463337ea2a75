package app_test

import (
	"testing"

	"authfn/pkg/app"
	"authfn/pkg/auth"
	"authfn/pkg/postgres"
	"authfn/pkg/testenv"
)

// TestLambdaLeavesNoPreparedStatement: many Lambda instances reach the
// database through RDS Proxy or PgBouncer in transaction mode, which pin
// or lose a connection's prepared statements, so the store Open builds
// uses unnamed statements only.
func TestLambdaLeavesNoPreparedStatement(t *testing.T) {
	env := map[string]string{
		"JWT_SECRET":   "0123456789abcdef0123456789abcdef-lambda",
		"DATABASE_URL": testenv.PostgresURL(t), "REDIS_URL": testenv.DefaultRedisURL,
	}
	a, err := app.Open(t.Context(), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	pg := a.Stores.Users.(*postgres.Store)
	for range 2 {
		if _, err := pg.User(t.Context(), 1); auth.ErrorCode(err) != auth.CodeNotFound {
			t.Fatalf("User(1) = %v, want not found in an empty database", err)
		}
	}
	if n := testenv.NamedStatements(t, pg); n != 0 {
		t.Errorf("%d named prepared statements on a Lambda's connection, want none", n)
	}
}
