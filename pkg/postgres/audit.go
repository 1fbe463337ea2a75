package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"authfn/pkg/auth"
	"authfn/pkg/sqlstore"
)

// RecordEvent appends e to the audit log; the database assigns its ID and
// e.ID is ignored. Nil Details are stored as an empty object. Returns
// CodeUnavailable.
func (s *Store) RecordEvent(ctx context.Context, e auth.Event) error {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	details, err := sqlstore.EncodeDetails(e.Details)
	if err != nil {
		return fmt.Errorf("record %s event: %w", e.Type, err)
	}
	// The triggers of audit_event_hours count it in the same statement.
	_, err = s.pool.Exec(qctx, `
		INSERT INTO audit_events (occurred_at, type, actor_id, target_id, username, ip, user_agent, request_id, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.Time, e.Type, e.ActorID, e.TargetID, e.Username, e.IP, e.UserAgent, e.RequestID, details)
	if err != nil {
		return translate(ctx, err, "record %s event", e.Type)
	}
	return nil
}

const eventColumns = `id, occurred_at, type, actor_id, target_id, username, ip, user_agent, request_id, details`

// Events returns the events matching q, newest first: by occurred_at,
// then id. A Limit outside 1..1000 is taken as 50 (below) or 1000
// (above). Each filter has an index that ends in (occurred_at, id)
// (infra/migrations/postgres/0005), so a page is one bounded range scan;
// a user's events are two, by actor and by target, merged. Returns
// CodeUnavailable.
func (s *Store) Events(ctx context.Context, q auth.EventQuery) ([]auth.Event, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if q.Type != "" {
		where = append(where, "type = "+arg(q.Type))
	}
	if !q.Since.IsZero() {
		where = append(where, "occurred_at >= "+arg(q.Since))
	}
	if !q.Until.IsZero() {
		where = append(where, "occurred_at < "+arg(q.Until))
	}
	if q.Before.ID != 0 {
		where = append(where, fmt.Sprintf("(occurred_at, id) < (%s, %s)", arg(q.Before.Time), arg(q.Before.ID)))
	}
	const order = " ORDER BY occurred_at DESC, id DESC LIMIT "
	limit := arg(auth.StorePageLimit(q.Limit))
	var sql string
	if q.UserID == 0 {
		sql = `SELECT ` + eventColumns + ` FROM audit_events` + whereClause(where) + order + limit
	} else {
		// One range scan per index, each stopping at limit, so an OR
		// never turns into a scan of everything the user did.
		user := arg(q.UserID)
		side := func(col string) string {
			return `(SELECT occurred_at, id FROM audit_events` + whereClause(append([]string{col + " = " + user}, where...)) + order + limit + `)`
		}
		sql = `SELECT ` + eventColumns + ` FROM audit_events WHERE id IN (
			SELECT id FROM (` + side("actor_id") + ` UNION ` + side("target_id") + `) k` + order + limit + `)` +
			` ORDER BY occurred_at DESC, id DESC`
	}
	rows, err := s.pool.Query(qctx, sql, args...)
	if err != nil {
		return nil, translate(ctx, err, "list events")
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (auth.Event, error) {
		var e auth.Event
		var details []byte
		if err := r.Scan(&e.ID, &e.Time, &e.Type, &e.ActorID, &e.TargetID, &e.Username, &e.IP, &e.UserAgent, &e.RequestID, &details); err != nil {
			return auth.Event{}, err
		}
		e.Time = e.Time.UTC()
		d, err := sqlstore.DecodeDetails(details)
		e.Details = d
		return e, err
	})
	if err != nil {
		return nil, translate(ctx, err, "list events")
	}
	return events, nil
}

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// CountEventsByHour sums the hourly counts the triggers of
// audit_event_hours keep: at most 8 rows (its shards) per type and hour,
// by primary key. Returns CodeUnavailable.
func (s *Store) CountEventsByHour(ctx context.Context, types []string, from, to time.Time) ([]auth.HourCount, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(qctx, `
		SELECT type, hour, sum(count)::bigint FROM audit_event_hours
		WHERE type = ANY($1) AND hour >= $2 AND hour < $3
		GROUP BY type, hour ORDER BY hour, type`, types, from, to)
	if err != nil {
		return nil, translate(ctx, err, "count events by hour")
	}
	counts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (auth.HourCount, error) {
		var c auth.HourCount
		err := r.Scan(&c.Type, &c.Hour, &c.Count)
		c.Hour = c.Hour.UTC()
		return c, err
	})
	if err != nil {
		return nil, translate(ctx, err, "count events by hour")
	}
	return counts, nil
}

// DeleteEventsBefore deletes at most limit events that occurred before t,
// oldest first, and says how many it deleted. Bounding each call keeps one
// retention pass from holding locks or a Lambda for long; callers repeat
// until it returns less than limit. The hourly counts of GET /stats lose
// the deleted events in the same statement (a trigger). Returns
// CodeUnavailable.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	qctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(qctx, `
		DELETE FROM audit_events WHERE id IN (
			SELECT id FROM audit_events WHERE occurred_at < $1 ORDER BY occurred_at, id LIMIT $2)`, t, limit)
	if err != nil {
		return 0, translate(ctx, err, "delete events before %s", t.Format(time.RFC3339))
	}
	return int(tag.RowsAffected()), nil
}
