-- Per-user preferences as one JSON object; they go when the user goes
-- (the store turns foreign keys on for every connection).
CREATE TABLE preferences (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    data       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(data) AND json_type(data) = 'object'),
    updated_at INTEGER NOT NULL
) STRICT;
