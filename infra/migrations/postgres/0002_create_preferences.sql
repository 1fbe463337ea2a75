-- Per-user preferences as one JSON object; they go when the user goes.
CREATE TABLE preferences (
    user_id    BIGINT      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    data       JSONB       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
