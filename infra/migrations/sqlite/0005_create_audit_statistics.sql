-- GET /audit and GET /stats cost the same at ten events or ten million;
-- the PostgreSQL file of the same number says how. The log is read newest
-- first by (occurred_at, id); every filter has an index that starts with
-- its equality columns and ends in (occurred_at, id).
DROP INDEX IF EXISTS audit_events_occurred_at_idx;
DROP INDEX IF EXISTS audit_events_target_id_idx;
CREATE INDEX audit_events_time_idx ON audit_events (occurred_at, id);
CREATE INDEX audit_events_type_idx ON audit_events (type, occurred_at, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, occurred_at, id) WHERE actor_id IS NOT NULL;
CREATE INDEX audit_events_target_idx ON audit_events (target_id, occurred_at, id) WHERE target_id IS NOT NULL;
CREATE INDEX audit_events_actor_type_idx ON audit_events (actor_id, type, occurred_at, id) WHERE actor_id IS NOT NULL;
CREATE INDEX audit_events_target_type_idx ON audit_events (target_id, type, occurred_at, id) WHERE target_id IS NOT NULL;

-- Events per type and UTC hour (unix microseconds of the hour's start),
-- kept by triggers in the transaction of every insert and delete. SQLite
-- has one writer at a time, so unlike PostgreSQL's these rows are not
-- split to spread the writers' locks.
CREATE TABLE audit_event_hours (
    type  TEXT    NOT NULL,
    hour  INTEGER NOT NULL,
    count INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (type, hour)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER audit_event_hours_add AFTER INSERT ON audit_events BEGIN
    INSERT INTO audit_event_hours (type, hour, count)
    VALUES (NEW.type, NEW.occurred_at - NEW.occurred_at % 3600000000, 1)
    ON CONFLICT (type, hour) DO UPDATE SET count = count + 1;
END;

CREATE TRIGGER audit_event_hours_remove AFTER DELETE ON audit_events BEGIN
    UPDATE audit_event_hours SET count = count - 1
    WHERE type = OLD.type AND hour = OLD.occurred_at - OLD.occurred_at % 3600000000;
    DELETE FROM audit_event_hours
    WHERE type = OLD.type AND hour = OLD.occurred_at - OLD.occurred_at % 3600000000 AND count = 0;
END;

INSERT INTO audit_event_hours (type, hour, count)
SELECT type, occurred_at - occurred_at % 3600000000, count(*) FROM audit_events WHERE true GROUP BY 1, 2;

-- The user counts of GET /stats in one row kept by triggers; admins and
-- MFA are counted among active users.
CREATE TABLE user_counts (
    one         INTEGER PRIMARY KEY CHECK (one = 1),
    total       INTEGER NOT NULL CHECK (total >= 0),
    active      INTEGER NOT NULL CHECK (active >= 0),
    admins      INTEGER NOT NULL CHECK (admins >= 0),
    mfa_enabled INTEGER NOT NULL CHECK (mfa_enabled >= 0)
) STRICT;

CREATE TRIGGER user_counts_insert AFTER INSERT ON users BEGIN
    UPDATE user_counts SET total = total + 1, active = active + NEW.is_active,
        admins = admins + (NEW.is_active AND NEW.is_admin),
        mfa_enabled = mfa_enabled + (NEW.is_active AND NEW.mfa_enabled);
END;

CREATE TRIGGER user_counts_delete AFTER DELETE ON users BEGIN
    UPDATE user_counts SET total = total - 1, active = active - OLD.is_active,
        admins = admins - (OLD.is_active AND OLD.is_admin),
        mfa_enabled = mfa_enabled - (OLD.is_active AND OLD.mfa_enabled);
END;

CREATE TRIGGER user_counts_update AFTER UPDATE OF is_active, is_admin, mfa_enabled ON users
WHEN OLD.is_active <> NEW.is_active OR OLD.is_admin <> NEW.is_admin OR OLD.mfa_enabled <> NEW.mfa_enabled
BEGIN
    UPDATE user_counts SET active = active - OLD.is_active + NEW.is_active,
        admins = admins - (OLD.is_active AND OLD.is_admin) + (NEW.is_active AND NEW.is_admin),
        mfa_enabled = mfa_enabled - (OLD.is_active AND OLD.mfa_enabled) + (NEW.is_active AND NEW.mfa_enabled);
END;

INSERT INTO user_counts (one, total, active, admins, mfa_enabled)
SELECT 1, count(*), coalesce(sum(is_active), 0), coalesce(sum(is_active AND is_admin), 0),
       coalesce(sum(is_active AND mfa_enabled), 0)
FROM users;
