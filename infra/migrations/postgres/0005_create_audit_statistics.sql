-- GET /audit and GET /stats cost the same at ten events or ten million.
--
-- The log is read newest first by (occurred_at, id), the keyset of its
-- cursor, so that since/until bound an index range instead of filtering
-- a scan. Every filter GET /audit takes has an index that starts with its
-- equality columns and ends in (occurred_at, id): a page is one range
-- scan of at most limit+1 entries, whatever the table holds. user_id
-- matches the actor or the target, answered as two such scans merged.
-- Actor and target are often empty (a failed login of an unknown name, a
-- scheduled cleanup), so their indexes leave those rows out.
--
-- On a large existing log, build these first with CREATE INDEX
-- CONCURRENTLY under the same names: this file then skips them instead of
-- holding the table's write lock while it builds them.
DROP INDEX IF EXISTS audit_events_occurred_at_idx;
DROP INDEX IF EXISTS audit_events_target_id_idx;
CREATE INDEX IF NOT EXISTS audit_events_time_idx ON audit_events (occurred_at, id);
CREATE INDEX IF NOT EXISTS audit_events_type_idx ON audit_events (type, occurred_at, id);
CREATE INDEX IF NOT EXISTS audit_events_actor_idx ON audit_events (actor_id, occurred_at, id) WHERE actor_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_events_target_idx ON audit_events (target_id, occurred_at, id) WHERE target_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_events_actor_type_idx ON audit_events (actor_id, type, occurred_at, id) WHERE actor_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_events_target_type_idx ON audit_events (target_id, type, occurred_at, id) WHERE target_id IS NOT NULL;

-- Events per type and UTC hour, kept by triggers in the transaction of
-- every insert and delete of events, whoever writes them (an older
-- version still serving during a deploy included). GET /stats reads at
-- most hours x types x 8 rows of it; counting the events themselves
-- reads every login of the window (measured: 19 s for 720 hours of a
-- 10-million-event log, 1.3 s for 24).
--
-- Each hour is split over 8 rows by id, so that concurrent inserts of
-- one type do not all wait for the lock of one row until they commit:
-- with one row per hour, 8 writers of login.failed made ~450 inserts/s,
-- against ~1,500 without the trigger; with 8, as many as without.
CREATE TABLE audit_event_hours (
    type  TEXT        NOT NULL,
    hour  TIMESTAMPTZ NOT NULL,
    shard SMALLINT    NOT NULL CHECK (shard BETWEEN 0 AND 7),
    count BIGINT      NOT NULL CHECK (count >= 0),
    PRIMARY KEY (type, hour, shard)
);

-- Statement-level, so that a bulk insert or a retention batch makes one
-- change per row of counts, not one per event; the ORDER BY takes the
-- row locks in one order, so two such statements cannot deadlock.
CREATE FUNCTION audit_event_hours_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_event_hours AS h (type, hour, shard, count)
    SELECT type, date_trunc('hour', occurred_at, 'UTC'), id % 8, count(*) FROM added
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (type, hour, shard) DO UPDATE SET count = h.count + EXCLUDED.count;
    RETURN NULL;
END $$;

CREATE FUNCTION audit_event_hours_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_event_hours h SET count = h.count - gone.n
    FROM (SELECT type, date_trunc('hour', occurred_at, 'UTC') AS hour, id % 8 AS shard, count(*) AS n
          FROM removed GROUP BY 1, 2, 3 ORDER BY 1, 2, 3) gone
    WHERE h.type = gone.type AND h.hour = gone.hour AND h.shard = gone.shard;
    DELETE FROM audit_event_hours h
    WHERE h.count = 0 AND (h.type, h.hour, h.shard) IN
        (SELECT type, date_trunc('hour', occurred_at, 'UTC'), id % 8 FROM removed);
    RETURN NULL;
END $$;

CREATE TRIGGER audit_event_hours_add AFTER INSERT ON audit_events
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION audit_event_hours_add();
CREATE TRIGGER audit_event_hours_remove AFTER DELETE ON audit_events
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION audit_event_hours_remove();

-- The triggers hold the table's lock from here to the commit, so the
-- events counted now are all those the triggers will not see (measured:
-- 21 s for 10 million events).
INSERT INTO audit_event_hours (type, hour, shard, count)
SELECT type, date_trunc('hour', occurred_at, 'UTC'), id % 8, count(*) FROM audit_events GROUP BY 1, 2, 3;

-- The user counts of GET /stats, one row kept by triggers, so that they
-- cost one primary-key read however many users there are. Admins and
-- MFA are counted among active users: a deactivated account holds no
-- rights. Logins (which only set last_login_at) do not fire them.
CREATE TABLE user_counts (
    one         BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    total       BIGINT  NOT NULL CHECK (total >= 0),
    active      BIGINT  NOT NULL CHECK (active >= 0),
    admins      BIGINT  NOT NULL CHECK (admins >= 0),
    mfa_enabled BIGINT  NOT NULL CHECK (mfa_enabled >= 0)
);

CREATE FUNCTION user_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d_total  BIGINT := 0;
    d_active BIGINT := 0;
    d_admins BIGINT := 0;
    d_mfa    BIGINT := 0;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        d_total  := d_total - 1;
        d_active := d_active - OLD.is_active::int;
        d_admins := d_admins - (OLD.is_active AND OLD.is_admin)::int;
        d_mfa    := d_mfa - (OLD.is_active AND OLD.mfa_enabled)::int;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        d_total  := d_total + 1;
        d_active := d_active + NEW.is_active::int;
        d_admins := d_admins + (NEW.is_active AND NEW.is_admin)::int;
        d_mfa    := d_mfa + (NEW.is_active AND NEW.mfa_enabled)::int;
    END IF;
    UPDATE user_counts SET total = total + d_total, active = active + d_active,
        admins = admins + d_admins, mfa_enabled = mfa_enabled + d_mfa;
    RETURN NULL;
END $$;

CREATE TRIGGER user_counts_insert_delete AFTER INSERT OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION user_counts_apply();
CREATE TRIGGER user_counts_update AFTER UPDATE OF is_active, is_admin, mfa_enabled ON users
    FOR EACH ROW
    WHEN (OLD.is_active IS DISTINCT FROM NEW.is_active OR OLD.is_admin IS DISTINCT FROM NEW.is_admin
          OR OLD.mfa_enabled IS DISTINCT FROM NEW.mfa_enabled)
    EXECUTE FUNCTION user_counts_apply();

INSERT INTO user_counts (total, active, admins, mfa_enabled)
SELECT count(*), count(*) FILTER (WHERE is_active), count(*) FILTER (WHERE is_active AND is_admin),
       count(*) FILTER (WHERE is_active AND mfa_enabled)
FROM users;
