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
	_, err = s.pool.Exec(qctx, `
		INSERT INTO audit_events (occurred_at, type, actor_id, target_id, username, ip, user_agent, request_id, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.Time, e.Type, e.ActorID, e.TargetID, e.Username, e.IP, e.UserAgent, e.RequestID, details)
	if err != nil {
		return translate(ctx, err, "record %s event", e.Type)
	}
	return nil
}

// Events returns the events matching q, newest (highest ID) first. A Limit
// outside 1..1000 is taken as 50 (below) or 1000 (above). Returns CodeUnavailable.
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
	if q.TargetID != 0 {
		where = append(where, "target_id = "+arg(q.TargetID))
	}
	if q.BeforeID != 0 {
		where = append(where, "id < "+arg(q.BeforeID))
	}
	sql := `SELECT id, occurred_at, type, actor_id, target_id, username, ip, user_agent, request_id, details FROM audit_events`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY id DESC LIMIT " + arg(auth.StorePageLimit(q.Limit))
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

// DeleteEventsBefore deletes at most limit events that occurred before t,
// oldest first, and says how many it deleted. Bounding each call keeps one
// retention pass from holding locks or a Lambda for long; callers repeat
// until it returns less than limit. Returns CodeUnavailable.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	qctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(qctx, `
		DELETE FROM audit_events WHERE id IN (
			SELECT id FROM audit_events WHERE occurred_at < $1 ORDER BY id LIMIT $2)`, t, limit)
	if err != nil {
		return 0, translate(ctx, err, "delete events before %s", t.Format(time.RFC3339))
	}
	return int(tag.RowsAffected()), nil
}
