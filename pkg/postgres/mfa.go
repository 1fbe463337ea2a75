package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"authfn/pkg/auth"
	"authfn/pkg/sqlstore"
)

var _ auth.MFAStore = (*Store)(nil)

// EnableMFA stores e in one transaction: the secret row, the recovery
// code hashes, and users.mfa_enabled. The user row is share-locked first, so a
// concurrent deletion waits and the foreign key cannot fail. Returns
// ErrMFAEnabled (CodeConflict) if MFA is on, ErrNotFound for an unknown
// user, CodeUnavailable.
func (s *Store) EnableMFA(ctx context.Context, userID int64, e auth.MFAEnrolment) error {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.inTx(qctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(qctx, `SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE`, userID).Scan(&one); err != nil {
			return err
		}
		tag, err := tx.Exec(qctx, `
			INSERT INTO user_mfa (user_id, secret, last_step, enabled_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (user_id) DO NOTHING`, userID, e.Secret, e.LastStep, e.EnabledAt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return auth.ErrMFAEnabled
		}
		if _, err = tx.Exec(qctx, `INSERT INTO mfa_recovery_codes (user_id, code_hash) SELECT $1, unnest($2::text[])`,
			userID, e.RecoveryHashes); err != nil {
			return err
		}
		_, err = tx.Exec(qctx, `UPDATE users SET mfa_enabled = true WHERE id = $1`, userID)
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
	qctx, cancel := s.bound(ctx)
	defer cancel()
	var m auth.MFARecord
	err := s.pool.QueryRow(qctx, `
		SELECT secret, last_step, enabled_at, (SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1)
		FROM user_mfa WHERE user_id = $1`, userID).Scan(&m.Secret, &m.LastStep, &m.EnabledAt, &m.RecoveryCodes)
	if err != nil {
		return auth.MFARecord{}, translate(ctx, err, "mfa of user %d", userID)
	}
	m.EnabledAt = m.EnabledAt.UTC()
	return m, nil
}

// AdvanceMFAStep moves the last accepted step to step only if it is below,
// in one statement: of two requests with one code, one row update wins.
// Returns CodeUnavailable.
func (s *Store) AdvanceMFAStep(ctx context.Context, userID, step int64) (bool, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(qctx, `UPDATE user_mfa SET last_step = $2 WHERE user_id = $1 AND last_step < $2`, userID, step)
	if err != nil {
		return false, translate(ctx, err, "advance mfa step of user %d", userID)
	}
	return tag.RowsAffected() == 1, nil
}

// UseRecoveryCode deletes one unused recovery code, in one statement.
// Returns CodeUnavailable.
func (s *Store) UseRecoveryCode(ctx context.Context, userID int64, hash string) (bool, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(qctx, `DELETE FROM mfa_recovery_codes WHERE user_id = $1 AND code_hash = $2`, userID, hash)
	if err != nil {
		return false, translate(ctx, err, "use recovery code of user %d", userID)
	}
	return tag.RowsAffected() == 1, nil
}

// DisableMFA deletes the secret (the recovery codes go with it, ON DELETE
// CASCADE) and clears users.mfa_enabled, in one transaction. Returns
// CodeUnavailable.
func (s *Store) DisableMFA(ctx context.Context, userID int64) (bool, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	on := false
	err := s.inTx(qctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(qctx, `DELETE FROM user_mfa WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		on = tag.RowsAffected() == 1
		_, err = tx.Exec(qctx, `UPDATE users SET mfa_enabled = false WHERE id = $1 AND mfa_enabled`, userID)
		return err
	})
	if err != nil {
		return false, translate(ctx, err, "disable mfa of user %d", userID)
	}
	return on, nil
}

// MFAKeyCheck returns the stored MFA_KEY check value. Returns ErrNotFound
// (CodeNotFound), CodeUnavailable.
func (s *Store) MFAKeyCheck(ctx context.Context) (string, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	var v string
	if err := s.pool.QueryRow(qctx, `SELECT value FROM service_settings WHERE name = $1`, sqlstore.MFAKeyCheckName).Scan(&v); err != nil {
		return "", translate(ctx, err, "mfa key check")
	}
	return v, nil
}

// InitMFAKeyCheck stores check unless a value is there, then reads what is
// there: two statements, so the read sees a value that a concurrent start
// committed first. Returns CodeUnavailable.
func (s *Store) InitMFAKeyCheck(ctx context.Context, check string) (string, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	if _, err := s.pool.Exec(qctx, `INSERT INTO service_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
		sqlstore.MFAKeyCheckName, check); err != nil {
		return "", translate(ctx, err, "init mfa key check")
	}
	var v string
	if err := s.pool.QueryRow(qctx, `SELECT value FROM service_settings WHERE name = $1`, sqlstore.MFAKeyCheckName).Scan(&v); err != nil {
		return "", translate(ctx, err, "init mfa key check")
	}
	return v, nil
}
