package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/sqlstore"
)

// RecordEvent appends e to the audit log; the database assigns its ID and
// e.ID is ignored. Nil Details are stored as an empty object. Returns
// CodeUnavailable.
func (s *Store) RecordEvent(ctx context.Context, e auth.Event) error {
	details, err := sqlstore.EncodeDetails(e.Details)
	if err != nil {
		return fmt.Errorf("record %s event: %w", e.Type, err)
	}
	_, err = s.db.ExecContext(ctx, `
		INSERT INTO audit_events (occurred_at, type, actor_id, target_id, username, ip, user_agent, request_id, details)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		micros(e.Time), e.Type, nullID(e.ActorID), nullID(e.TargetID), e.Username, e.IP, e.UserAgent, e.RequestID, details)
	if err != nil {
		return translate(ctx, err, "record %s event", e.Type)
	}
	return nil
}

func nullID(p *int64) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: *p, Valid: true}
}

func idPtr(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

const eventColumns = `id, occurred_at, type, actor_id, target_id, username, ip, user_agent, request_id, details`

// Events returns the events matching q, newest first: by occurred_at,
// then id. A Limit outside 1..1000 is taken as 50 (below) or 1000
// (above). Each filter has an index that ends in (occurred_at, id)
// (infra/migrations/sqlite/0005), so a page is one bounded range scan; a
// user's events are two, by actor and by target, merged. Returns
// CodeUnavailable.
func (s *Store) Events(ctx context.Context, q auth.EventQuery) ([]auth.Event, error) {
	query, args := eventsQuery(q)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, translate(ctx, err, "list events")
	}
	defer rows.Close()
	events := []auth.Event{}
	for rows.Next() {
		var e auth.Event
		var at int64
		var actor, target sql.NullInt64
		var details []byte
		if err := rows.Scan(&e.ID, &at, &e.Type, &actor, &target, &e.Username, &e.IP, &e.UserAgent, &e.RequestID, &details); err != nil {
			return nil, translate(ctx, err, "list events")
		}
		e.Time = fromMicros(at)
		e.ActorID, e.TargetID = idPtr(actor), idPtr(target)
		if e.Details, err = sqlstore.DecodeDetails(details); err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, err, "list events")
	}
	return events, nil
}

// eventsQuery is the statement of Events for q, and its arguments.
func eventsQuery(q auth.EventQuery) (string, []any) {
	limit := auth.StorePageLimit(q.Limit)
	// filter gives the conditions of q after the leading ones, with their
	// arguments; the two halves of a user's query each take their own.
	filter := func(lead []string, leadArgs ...any) (string, []any) {
		where, args := lead, leadArgs
		if q.Type != "" {
			where, args = append(where, "type = ?"), append(args, q.Type)
		}
		if !q.Since.IsZero() {
			where, args = append(where, "occurred_at >= ?"), append(args, micros(q.Since))
		}
		if !q.Until.IsZero() {
			where, args = append(where, "occurred_at < ?"), append(args, micros(q.Until))
		}
		if q.Before.ID != 0 {
			where, args = append(where, "(occurred_at, id) < (?, ?)"), append(args, micros(q.Before.Time), q.Before.ID)
		}
		if len(where) == 0 {
			return "", args
		}
		return " WHERE " + strings.Join(where, " AND "), args
	}
	const order = " ORDER BY occurred_at DESC, id DESC LIMIT ?"
	var query string
	var args []any
	if q.UserID == 0 {
		where, wargs := filter(nil)
		query, args = `SELECT `+eventColumns+` FROM audit_events`+where+order, append(wargs, limit)
	} else {
		actor, aargs := filter([]string{"actor_id = ?"}, q.UserID)
		target, targs := filter([]string{"target_id = ?"}, q.UserID)
		query = `SELECT ` + eventColumns + ` FROM audit_events WHERE id IN (
			SELECT id FROM (
				SELECT * FROM (SELECT occurred_at, id FROM audit_events` + actor + order + `)
				UNION
				SELECT * FROM (SELECT occurred_at, id FROM audit_events` + target + order + `)
			)` + order + `) ORDER BY occurred_at DESC, id DESC`
		args = append(append(append(aargs, limit), append(targs, limit)...), limit)
	}
	return query, args
}

// CountEventsByHour reads the hourly counts the triggers of
// audit_event_hours keep: at most one row per type and hour, by primary
// key. Returns CodeUnavailable.
func (s *Store) CountEventsByHour(ctx context.Context, types []string, from, to time.Time) ([]auth.HourCount, error) {
	if len(types) == 0 {
		return nil, nil
	}
	args := []any{}
	for _, t := range types {
		args = append(args, t)
	}
	args = append(args, micros(from), micros(to))
	rows, err := s.db.QueryContext(ctx, `
		SELECT type, hour, count FROM audit_event_hours
		WHERE type IN (?`+strings.Repeat(", ?", len(types)-1)+`) AND hour >= ? AND hour < ?
		ORDER BY hour, type`, args...)
	if err != nil {
		return nil, translate(ctx, err, "count events by hour")
	}
	defer rows.Close()
	var counts []auth.HourCount
	for rows.Next() {
		var c auth.HourCount
		var hour int64
		if err := rows.Scan(&c.Type, &hour, &c.Count); err != nil {
			return nil, translate(ctx, err, "count events by hour")
		}
		c.Hour = fromMicros(hour)
		counts = append(counts, c)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, err, "count events by hour")
	}
	return counts, nil
}

// DeleteEventsBefore deletes at most limit events that occurred before t,
// oldest first, and says how many it deleted, so that one retention pass
// never holds the write lock for long. The hourly counts of GET /stats
// lose the deleted events in the same statement (a trigger). Returns
// CodeUnavailable.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	res, err := s.db.ExecContext(ctx, `
		DELETE FROM audit_events WHERE id IN (
			SELECT id FROM audit_events WHERE occurred_at < ? ORDER BY occurred_at, id LIMIT ?)`, micros(t), limit)
	if err != nil {
		return 0, translate(ctx, err, "delete events before %s", t.Format(time.RFC3339))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, translate(ctx, err, "delete events before %s", t.Format(time.RFC3339))
	}
	return int(n), nil
}
