-- Multi-factor authentication: the same tables as PostgreSQL's 0006 (see
-- there). Times are INTEGER unix microseconds, as in users.
CREATE TABLE user_mfa (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret     BLOB    NOT NULL,
    last_step  INTEGER NOT NULL,
    enabled_at INTEGER NOT NULL
) STRICT;

CREATE TABLE mfa_recovery_codes (
    user_id   INTEGER NOT NULL REFERENCES user_mfa (user_id) ON DELETE CASCADE,
    code_hash TEXT    NOT NULL,
    PRIMARY KEY (user_id, code_hash)
) STRICT;

CREATE TABLE service_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
