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

// Events returns the events matching q, newest (highest ID) first. A Limit
// outside 1..1000 is taken as 50 (below) or 1000 (above). Returns CodeUnavailable.
func (s *Store) Events(ctx context.Context, q auth.EventQuery) ([]auth.Event, error) {
	var where []string
	var args []any
	if q.Type != "" {
		where, args = append(where, "type = ?"), append(args, q.Type)
	}
	if q.TargetID != 0 {
		where, args = append(where, "target_id = ?"), append(args, q.TargetID)
	}
	if q.BeforeID != 0 {
		where, args = append(where, "id < ?"), append(args, q.BeforeID)
	}
	query := `SELECT id, occurred_at, type, actor_id, target_id, username, ip, user_agent, request_id, details FROM audit_events`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, auth.StorePageLimit(q.Limit))
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

// DeleteEventsBefore deletes at most limit events that occurred before t,
// oldest first, and says how many it deleted, so that one retention pass
// never holds the write lock for long. Returns CodeUnavailable.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	res, err := s.db.ExecContext(ctx, `
		DELETE FROM audit_events WHERE id IN (
			SELECT id FROM audit_events WHERE occurred_at < ? ORDER BY id LIMIT ?)`, micros(t), limit)
	if err != nil {
		return 0, translate(ctx, err, "delete events before %s", t.Format(time.RFC3339))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, translate(ctx, err, "delete events before %s", t.Format(time.RFC3339))
	}
	return int(n), nil
}
