-- Users. Times are INTEGER unix microseconds (UTC), the precision
-- PostgreSQL keeps, so both stores return identical values. AUTOINCREMENT
-- keeps ids of deleted users from being handed out again, as PostgreSQL's
-- identity does.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    full_name     TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL DEFAULT '',
    is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    is_active     INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    source        TEXT    NOT NULL DEFAULT 'local',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_login_at INTEGER
) STRICT;

-- Usernames are ASCII, so SQLite's ASCII-only lower() agrees with PostgreSQL's.
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

CREATE INDEX users_admin_idx ON users (id) WHERE is_admin;
