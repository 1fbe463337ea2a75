-- Multi-factor authentication (docs/security.md 34). A row in user_mfa is
-- what "MFA is on" means (users.mfa_enabled, from 0004, mirrors it, set in
-- the same transaction): the TOTP secret, sealed with MFA_KEY (AES-256-GCM,
-- the user id as additional data), and the last time step accepted, which
-- only moves forward (UPDATE ... WHERE last_step < $step), so that no code
-- is accepted twice. Recovery codes are kept as SHA-256 hashes and deleted
-- when used. Both go with their user.
CREATE TABLE user_mfa (
    user_id    BIGINT      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret     BYTEA       NOT NULL,
    last_step  BIGINT      NOT NULL,
    enabled_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE mfa_recovery_codes (
    user_id   BIGINT NOT NULL REFERENCES user_mfa (user_id) ON DELETE CASCADE,
    code_hash TEXT   NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- Settings of the deployment as a whole. mfa_key_check holds a value
-- derived from MFA_KEY (an HMAC, which tells nothing about the key), so
-- that a start with another key stops with a clear message instead of
-- failing to open every secret.
CREATE TABLE service_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
