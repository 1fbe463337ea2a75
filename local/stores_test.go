package main

import (
	"io"
	"testing"

	"authfn/pkg/auth"
	"authfn/pkg/postgres"
	"authfn/pkg/testenv"
)

// TestRunnerPreparesStatements: the runner keeps its PostgreSQL
// connections to itself, so it prepares its statements once per
// connection rather than having each one parsed and planned per query;
// a URL that names another mode still wins.
func TestRunnerPreparesStatements(t *testing.T) {
	_, prefix := testenv.Redis(t)
	url := testenv.PostgresURL(t)
	for _, tc := range []struct {
		name, query string
		want        bool
	}{
		{"default", "", true},
		{"the URL asks for unnamed statements", "&default_query_exec_mode=cache_describe", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"LOCAL_DIR": t.TempDir(), "DATABASE_URL": url + tc.query, "REDIS_URL": testenv.DefaultRedisURL, "REDIS_KEY_PREFIX": prefix}
			a, _, _, err := open(t.Context(), func(k string) string { return env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			pg := a.Stores.Users.(*postgres.Store)
			if _, err := pg.User(t.Context(), 1); auth.ErrorCode(err) != auth.CodeNotFound {
				t.Fatalf("User(1) = %v, want not found in an empty database", err)
			}
			if got := testenv.NamedStatements(t, pg) > 0; got != tc.want {
				t.Errorf("named prepared statements on the runner's connections: %v, want %v", got, tc.want)
			}
		})
	}
}
