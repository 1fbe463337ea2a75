package sqlstore

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
)

// Migration is one versioned schema change.
type Migration struct {
	Version int    // NNNN of the file name
	Name    string // the file name without .sql: "0001_create_users"
	SQL     string
}

var migrationFile = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// ReadMigrations returns the migrations in directory dir of fsys in version
// order. Every file must be named NNNN_verb_noun.sql and no two may share a
// version, so that a misnamed or clashing file stops the start rather than
// being skipped. Returns a plain error (CodeInternal) for an unreadable
// directory or file, a misnamed file or a repeated version.
func ReadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		m := migrationFile.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %s: name is not NNNN_verb_noun.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		out = append(out, Migration{Version: v, Name: e.Name()[:len(e.Name())-len(".sql")], SQL: string(b)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share a version", out[i-1].Name, out[i].Name)
		}
	}
	return out, nil
}

// Pending returns the migrations of ms, in their order, whose version is
// not in applied. Versions in applied that ms does not know (a newer
// deploy got there first) are left alone.
func Pending(ms []Migration, applied []int) []Migration {
	var out []Migration
	for _, m := range ms {
		if !slices.Contains(applied, m.Version) {
			out = append(out, m)
		}
	}
	return out
}
