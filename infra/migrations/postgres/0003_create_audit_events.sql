-- The audit log. actor_id and target_id have no foreign keys on purpose:
-- the log must outlive the users it talks about.
CREATE TABLE audit_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at TIMESTAMPTZ NOT NULL,
    type        TEXT        NOT NULL,
    actor_id    BIGINT,
    target_id   BIGINT,
    username    TEXT        NOT NULL DEFAULT '',
    ip          TEXT        NOT NULL DEFAULT '',
    user_agent  TEXT        NOT NULL DEFAULT '',
    request_id  TEXT        NOT NULL DEFAULT '',
    details     JSONB       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object')
);

-- Retention deletes by age; the admin view pages one user's history.
CREATE INDEX audit_events_occurred_at_idx ON audit_events (occurred_at);
CREATE INDEX audit_events_target_id_idx ON audit_events (target_id, id);
