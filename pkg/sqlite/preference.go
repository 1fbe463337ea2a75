package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/sqlstore"
)

// Preferences returns the user's preferences: an empty, non-nil map when
// none are set or the user does not exist. Returns CodeUnavailable.
func (s *Store) Preferences(ctx context.Context, userID int64) (auth.Preferences, error) {
	var data []byte
	err := s.db.QueryRowContext(ctx, `SELECT data FROM preferences WHERE user_id = ?`, userID).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
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
// auth.MergePreferences inside one write transaction, which SQLite runs
// alone, so concurrent merges of different keys never lose one another.
// Returns ErrNotFound (CodeNotFound) for an unknown user,
// ErrPreferencesTooLarge (CodeValidation) when the result would exceed max
// bytes as read back (nothing is written), CodeValidation for a number too
// long written out (auth.MaxPreferenceNumberChars, counted as PostgreSQL
// prints it, so that both stores refuse the same values),
// CodeInvalidRequest for a value that is not JSON, CodeUnavailable.
func (s *Store) UpdatePreferences(ctx context.Context, userID int64, patch auth.Preferences, max int) (auth.Preferences, error) {
	var out auth.Preferences
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var data []byte
		err := tx.QueryRowContext(ctx, `
			SELECT p.data FROM users u LEFT JOIN preferences p ON p.user_id = u.id
			WHERE u.id = ?`, userID).Scan(&data)
		if err != nil {
			return err
		}
		merged, stored, err := sqlstore.MergePreferences(data, patch, max)
		if err != nil {
			return err
		}
		out = merged
		_, err = tx.ExecContext(ctx, `
			INSERT INTO preferences (user_id, data, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
			userID, stored, micros(time.Now()))
		return err
	})
	if err != nil {
		return nil, translate(ctx, err, "update preferences of user %d", userID)
	}
	return out, nil
}
