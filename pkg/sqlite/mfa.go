package sqlite

import (
	"context"
	"database/sql"

	"authfn/pkg/auth"
	"authfn/pkg/sqlstore"
)

var _ auth.MFAStore = (*Store)(nil)

// EnableMFA stores e in one write transaction, which SQLite runs alone:
// the user's existence, the secret row and the recovery code hashes
// cannot be interleaved with another writer. Returns ErrMFAEnabled
// (CodeConflict) if MFA is on, ErrNotFound for an unknown user,
// CodeUnavailable.
func (s *Store) EnableMFA(ctx context.Context, userID int64, e auth.MFAEnrolment) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`, userID).Scan(&one); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `
			INSERT INTO user_mfa (user_id, secret, last_step, enabled_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (user_id) DO NOTHING`, userID, e.Secret, e.LastStep, micros(e.EnabledAt))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return auth.ErrMFAEnabled
		}
		for _, h := range e.RecoveryHashes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES (?, ?)`, userID, h); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET mfa_enabled = 1 WHERE id = ?`, userID)
		return err
	})
	if err != nil {
		return translate(ctx, err, "enable mfa of user %d", userID)
	}
	return nil
}

// MFA returns the user's MFA record with the count of unused recovery
// codes. Returns ErrNotFound (CodeNotFound) when MFA is off, CodeUnavailable.
func (s *Store) MFA(ctx context.Context, userID int64) (auth.MFARecord, error) {
	var m auth.MFARecord
	var enabled int64
	err := s.db.QueryRowContext(ctx, `
		SELECT secret, last_step, enabled_at, (SELECT count(*) FROM mfa_recovery_codes WHERE user_id = ?1)
		FROM user_mfa WHERE user_id = ?1`, userID).Scan(&m.Secret, &m.LastStep, &enabled, &m.RecoveryCodes)
	if err != nil {
		return auth.MFARecord{}, translate(ctx, err, "mfa of user %d", userID)
	}
	m.EnabledAt = fromMicros(enabled)
	return m, nil
}

// AdvanceMFAStep moves the last accepted step to step only if it is below,
// in one statement: of two requests with one code, one row update wins.
// Returns CodeUnavailable.
func (s *Store) AdvanceMFAStep(ctx context.Context, userID, step int64) (bool, error) {
	return s.changedOne(ctx, "advance mfa step", userID,
		`UPDATE user_mfa SET last_step = ?2 WHERE user_id = ?1 AND last_step < ?2`, userID, step)
}

// UseRecoveryCode deletes one unused recovery code, in one statement.
// Returns CodeUnavailable.
func (s *Store) UseRecoveryCode(ctx context.Context, userID int64, hash string) (bool, error) {
	return s.changedOne(ctx, "use recovery code", userID,
		`DELETE FROM mfa_recovery_codes WHERE user_id = ? AND code_hash = ?`, userID, hash)
}

// DisableMFA deletes the secret (the recovery codes go with it, ON DELETE
// CASCADE) and clears users.mfa_enabled, in one transaction. Returns
// CodeUnavailable.
func (s *Store) DisableMFA(ctx context.Context, userID int64) (bool, error) {
	on := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM user_mfa WHERE user_id = ?`, userID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		on = n == 1
		_, err = tx.ExecContext(ctx, `UPDATE users SET mfa_enabled = 0 WHERE id = ? AND mfa_enabled`, userID)
		return err
	})
	if err != nil {
		return false, translate(ctx, err, "disable mfa of user %d", userID)
	}
	return on, nil
}

// changedOne runs one write and reports whether it changed a row.
func (s *Store) changedOne(ctx context.Context, op string, userID int64, query string, args ...any) (bool, error) {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return false, translate(ctx, err, "%s of user %d", op, userID)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, translate(ctx, err, "%s of user %d", op, userID)
	}
	return n == 1, nil
}

// MFAKeyCheck returns the stored MFA_KEY check value. Returns ErrNotFound
// (CodeNotFound), CodeUnavailable.
func (s *Store) MFAKeyCheck(ctx context.Context) (string, error) {
	var v string
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM service_settings WHERE name = ?`, sqlstore.MFAKeyCheckName).Scan(&v); err != nil {
		return "", translate(ctx, err, "mfa key check")
	}
	return v, nil
}

// InitMFAKeyCheck stores check unless a value is there and returns what is
// there, in one statement. Returns CodeUnavailable.
func (s *Store) InitMFAKeyCheck(ctx context.Context, check string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `
		INSERT INTO service_settings (name, value) VALUES (?1, ?2)
		ON CONFLICT (name) DO UPDATE SET value = value
		RETURNING value`, sqlstore.MFAKeyCheckName, check).Scan(&v)
	if err != nil {
		return "", translate(ctx, err, "init mfa key check")
	}
	return v, nil
}
