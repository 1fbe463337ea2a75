-- Users. Usernames are unique without regard to case; they are ASCII
-- (letters, digits and ._-@), so lower() means the same here as in SQLite.
CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT        NOT NULL,
    full_name     TEXT        NOT NULL DEFAULT '',
    password_hash TEXT        NOT NULL DEFAULT '',
    is_admin      BOOLEAN     NOT NULL DEFAULT false,
    is_active     BOOLEAN     NOT NULL DEFAULT true,
    source        TEXT        NOT NULL DEFAULT 'local',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_login_at TIMESTAMPTZ
);

CREATE UNIQUE INDEX users_username_key ON users (lower(username));

-- The last-admin guard and the first-admin check count admins on every
-- change of roles; admins are few, so a partial index keeps that cheap
-- however many users there are.
CREATE INDEX users_admin_idx ON users (id) WHERE is_admin;
