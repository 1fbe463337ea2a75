package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"authfn/pkg/auth"
	"authfn/pkg/sqlstore"
)

// Preferences returns the user's preferences: an empty, non-nil map when
// none are set or the user does not exist. Returns CodeUnavailable.
func (s *Store) Preferences(ctx context.Context, userID int64) (auth.Preferences, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	var data []byte
	err := s.pool.QueryRow(qctx, `SELECT data FROM preferences WHERE user_id = $1`, userID).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Preferences{}, nil
	}
	if err != nil {
		return nil, translate(ctx, err, "preferences of user %d", userID)
	}
	p, err := sqlstore.DecodePreferences(data)
	if err != nil {
		return nil, fmt.Errorf("preferences of user %d: %w", userID, err)
	}
	return p, nil
}

// UpdatePreferences merges patch into the stored preferences with
// auth.MergePreferences while holding the user's row lock, so concurrent
// merges of different keys never lose one another. Returns ErrNotFound
// (CodeNotFound) for an unknown user, ErrPreferencesTooLarge
// (CodeValidation) when the result would exceed max bytes as read back
// (nothing is written), CodeValidation for a number too long written out,
// CodeInvalidRequest for a value that is not JSON, CodeUnavailable.
func (s *Store) UpdatePreferences(ctx context.Context, userID int64, patch auth.Preferences, max int) (auth.Preferences, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	var out auth.Preferences
	err := s.inTx(qctx, func(tx pgx.Tx) error {
		// Locking the user (which always exists while preferences can)
		// rather than the preferences row also serialises the very first
		// write, when there is no preferences row to lock. The read must be
		// a statement of its own, after the lock: a join locked FOR UPDATE
		// re-reads only the locked row after waiting, and would merge into
		// the preferences as they were before the wait.
		if _, err := tx.Exec(qctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, userID); err != nil {
			return err
		}
		var data []byte
		err := tx.QueryRow(qctx, `
			SELECT p.data FROM users u LEFT JOIN preferences p ON p.user_id = u.id
			WHERE u.id = $1`, userID).Scan(&data)
		if err != nil {
			return err
		}
		merged, stored, err := sqlstore.MergePreferences(data, patch, max)
		if err != nil {
			return err
		}
		out = merged
		_, err = tx.Exec(qctx, `
			INSERT INTO preferences (user_id, data, updated_at) VALUES ($1, $2, now())
			ON CONFLICT (user_id) DO UPDATE SET data = EXCLUDED.data, updated_at = EXCLUDED.updated_at`,
			userID, stored)
		return err
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Code, "22") {
		// A data exception: valid JSON that JSONB cannot hold (a lone
		// surrogate escape). Numbers beyond numeric's range never get here:
		// auth.MergePreferences holds them to 40 characters printed. Nothing
		// was written; it is the client's value, not a fault of ours.
		return nil, &auth.Error{Code: auth.CodeValidation, Message: "Some preferences are not acceptable.",
			Fields: map[string]string{"preferences": "a value cannot be stored (unpaired surrogate escape)"}, Err: err}
	}
	if err != nil {
		return nil, translate(ctx, err, "update preferences of user %d", userID)
	}
	return out, nil
}
