package sqlstore_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/sqlstore"
)

func TestReadMigrationsOrdersByVersion(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0010_add_index.sql":    {Data: []byte("CREATE INDEX i;")},
		"m/0002_add_prefs.sql":    {Data: []byte("CREATE TABLE p;")},
		"m/0001_create_users.sql": {Data: []byte("CREATE TABLE u;")},
	}
	got, err := sqlstore.ReadMigrations(fsys, "m")
	if err != nil {
		t.Fatalf("ReadMigrations error = %v", err)
	}
	want := []sqlstore.Migration{
		{Version: 1, Name: "0001_create_users", SQL: "CREATE TABLE u;"},
		{Version: 2, Name: "0002_add_prefs", SQL: "CREATE TABLE p;"},
		{Version: 10, Name: "0010_add_index", SQL: "CREATE INDEX i;"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadMigrations (-want +got):\n%s", diff)
	}
}

func TestReadMigrationsRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		want string // in the error
	}{
		{"repeated version", fstest.MapFS{
			"m/0001_create_users.sql": {Data: []byte("a")},
			"m/0001_create_prefs.sql": {Data: []byte("b")},
		}, "share a version"},
		{"no number", fstest.MapFS{"m/create_users.sql": {Data: []byte("a")}}, "create_users.sql"},
		{"short number", fstest.MapFS{"m/001_create_users.sql": {Data: []byte("a")}}, "001_create_users.sql"},
		{"capitals", fstest.MapFS{"m/0001_Create_Users.sql": {Data: []byte("a")}}, "0001_Create_Users.sql"},
		{"not sql", fstest.MapFS{"m/0001_create_users.txt": {Data: []byte("a")}}, "0001_create_users.txt"},
		{"no directory", fstest.MapFS{}, "read migrations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sqlstore.ReadMigrations(tc.fsys, "m")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadMigrations = %v, %v; want an error containing %q", got, err, tc.want)
			}
		})
	}
}

func TestPending(t *testing.T) {
	ms := []sqlstore.Migration{{Version: 1, Name: "a"}, {Version: 2, Name: "b"}, {Version: 3, Name: "c"}}
	for _, tc := range []struct {
		name    string
		applied []int
		want    []string
	}{
		{"fresh database", nil, []string{"a", "b", "c"}},
		{"gap filled in order", []int{2}, []string{"a", "c"}},
		{"all applied", []int{1, 2, 3}, nil},
		{"newer deploy got there first", []int{1, 2, 3, 4}, nil},
		{"unknown version is left alone", []int{1, 9}, []string{"b", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, m := range sqlstore.Pending(ms, tc.applied) {
				got = append(got, m.Name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Pending(%v) (-want +got):\n%s", tc.applied, diff)
			}
		})
	}
}
