// Package infra carries the deploy-side files that code needs at run time.
//
// The SQL migrations are embedded here, next to the files themselves, so
// that every binary that opens a database (each Lambda bootstrap, the local
// runner, make migrate, the tests) carries exactly the migrations of the
// commit it was built from, with no files to ship beside it and no path to
// configure. Nothing else belongs in this package.
package infra

import "embed"

// PostgresMigrations holds migrations/postgres/NNNN_verb_noun.sql, applied
// in version order by postgres.Migrate.
//
//go:embed migrations/postgres/*.sql
var PostgresMigrations embed.FS

// SQLiteMigrations holds migrations/sqlite/NNNN_verb_noun.sql, the same
// schema in SQLite's dialect, applied by sqlite.Open.
//
//go:embed migrations/sqlite/*.sql
var SQLiteMigrations embed.FS
