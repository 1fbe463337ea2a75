package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"authfn/pkg/auth"
	"authfn/pkg/sqlstore"
)

// adminLockKey names the transaction-level advisory lock taken by every
// transaction that can change who is an active admin. One lock for all of
// them, rather than row locks taken in whatever order two admins happen to
// be changed, serialises the last-admin check without deadlocks.
const adminLockKey int64 = 0x6175_7468_666e_0002 // "authfn" + 2

// mfa_enabled mirrors a row in user_mfa: EnableMFA and DisableMFA set it
// in the same transaction (the statistics triggers count the column).
const userColumns = `id, username, full_name, is_admin, is_active, source, created_at, updated_at, last_login_at, password_hash, mfa_enabled`

func scanUser(row pgx.Row) (auth.User, error) {
	var u auth.User
	err := row.Scan(&u.ID, &u.Username, &u.FullName, &u.IsAdmin, &u.IsActive, &u.Source,
		&u.CreatedAt, &u.UpdatedAt, &u.LastLoginAt, &u.PasswordHash, &u.MFAEnabled)
	if err != nil {
		return auth.User{}, err
	}
	// pgx decodes timestamptz in time.Local; the core and the API speak UTC.
	u.CreatedAt = u.CreatedAt.UTC()
	u.UpdatedAt = u.UpdatedAt.UTC()
	if u.LastLoginAt != nil {
		t := u.LastLoginAt.UTC()
		u.LastLoginAt = &t
	}
	return u, nil
}

func lockAdmins(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, adminLockKey)
	return err
}

// querier is what a pool and a transaction share, so a statement can run
// in either.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func insertUser(ctx context.Context, q querier, u auth.NewUser) (auth.User, error) {
	if u.Source == "" {
		u.Source = auth.SourceLocal
	}
	return scanUser(q.QueryRow(ctx, `
		INSERT INTO users (username, full_name, password_hash, is_admin, is_active, source, created_at, updated_at)
		VALUES ($1, $2, $3, $4, true, $5, $6, $6)
		RETURNING `+userColumns,
		u.Username, u.FullName, u.PasswordHash, u.IsAdmin, u.Source, u.CreatedAt))
}

// CreateUser inserts u as an active user; an empty Source means
// auth.SourceLocal. Returns ErrUsernameTaken (CodeConflict) if the username
// exists in any case, CodeUnavailable.
func (s *Store) CreateUser(ctx context.Context, u auth.NewUser) (auth.User, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	var out auth.User
	var err error
	if u.IsAdmin {
		// Under the admin lock, so that CreateFirstAdmin's "no admin yet"
		// stays true until it commits.
		err = s.inTx(qctx, func(tx pgx.Tx) error {
			if err := lockAdmins(qctx, tx); err != nil {
				return err
			}
			out, err = insertUser(qctx, tx, u)
			return err
		})
	} else {
		out, err = insertUser(qctx, s.pool, u)
	}
	if err != nil {
		return auth.User{}, translate(ctx, err, "create user %q", u.Username)
	}
	return out, nil
}

// CreateFirstAdmin inserts u as an admin if no admin exists, deciding under
// the admin lock so that concurrent cold starts create exactly one. It
// reports whether it created the user; when an admin already exists it
// returns the zero User and false. Returns ErrUsernameTaken (CodeConflict)
// if no admin exists but the username does, CodeUnavailable.
func (s *Store) CreateFirstAdmin(ctx context.Context, u auth.NewUser) (auth.User, bool, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	u.IsAdmin = true
	var out auth.User
	created := false
	err := s.inTx(qctx, func(tx pgx.Tx) error {
		if err := lockAdmins(qctx, tx); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(qctx, `SELECT EXISTS (SELECT 1 FROM users WHERE is_admin)`).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		var err error
		out, err = insertUser(qctx, tx, u)
		created = err == nil
		return err
	})
	if err != nil {
		return auth.User{}, false, translate(ctx, err, "create first admin %q", u.Username)
	}
	return out, created, nil
}

// User returns the user with id. Returns ErrNotFound (CodeNotFound), CodeUnavailable.
func (s *Store) User(ctx context.Context, id int64) (auth.User, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	u, err := scanUser(s.pool.QueryRow(qctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return auth.User{}, translate(ctx, err, "user %d", id)
	}
	return u, nil
}

// UserByUsername finds a user without regard to case. Returns ErrNotFound
// (CodeNotFound), CodeUnavailable.
func (s *Store) UserByUsername(ctx context.Context, username string) (auth.User, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	u, err := scanUser(s.pool.QueryRow(qctx, `SELECT `+userColumns+` FROM users WHERE lower(username) = lower($1)`, username))
	if err != nil {
		return auth.User{}, translate(ctx, err, "user %q", username)
	}
	return u, nil
}

// UpdateUser applies the non-nil fields of p and p.UpdatedAt in one
// transaction and returns the result. Returns ErrNotFound (CodeNotFound),
// ErrLastAdmin (CodeConflict) when the change would leave no user who is
// both admin and active (nothing is changed), CodeUnavailable.
func (s *Store) UpdateUser(ctx context.Context, id int64, p auth.UserPatch) (auth.User, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	var out auth.User
	err := s.inTx(qctx, func(tx pgx.Tx) error {
		roles := p.IsAdmin != nil || p.IsActive != nil
		if roles {
			if err := lockAdmins(qctx, tx); err != nil {
				return err
			}
		}
		cur, err := scanUser(tx.QueryRow(qctx, `SELECT `+userColumns+` FROM users WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		next := sqlstore.ApplyPatch(cur, p)
		if sqlstore.LosesActiveAdmin(cur, next) {
			if err := requireOtherAdmin(qctx, tx, id); err != nil {
				return err
			}
		}
		out, err = scanUser(tx.QueryRow(qctx, `
			UPDATE users SET full_name = $2, is_admin = $3, is_active = $4, password_hash = $5, updated_at = $6
			WHERE id = $1
			RETURNING `+userColumns,
			id, next.FullName, next.IsAdmin, next.IsActive, next.PasswordHash, p.UpdatedAt))
		return err
	})
	if err != nil {
		return auth.User{}, translate(ctx, err, "update user %d", id)
	}
	return out, nil
}

// requireOtherAdmin returns ErrLastAdmin unless an active admin other than
// id exists. The caller holds the admin lock, so the answer stays true
// until it commits.
func requireOtherAdmin(ctx context.Context, tx pgx.Tx, id int64) error {
	var others bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE is_admin AND is_active AND id <> $1)`, id).Scan(&others)
	if err != nil {
		return err
	}
	if !others {
		return auth.ErrLastAdmin
	}
	return nil
}

// DeleteUser removes the user; their preferences go with them (ON DELETE
// CASCADE) while their audit events stay. Returns ErrNotFound
// (CodeNotFound), ErrLastAdmin (CodeConflict), CodeUnavailable.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.inTx(qctx, func(tx pgx.Tx) error {
		if err := lockAdmins(qctx, tx); err != nil {
			return err
		}
		var admin, active bool
		err := tx.QueryRow(qctx, `SELECT is_admin, is_active FROM users WHERE id = $1 FOR UPDATE`, id).Scan(&admin, &active)
		if err != nil {
			return err
		}
		if admin && active {
			if err := requireOtherAdmin(qctx, tx, id); err != nil {
				return err
			}
		}
		_, err = tx.Exec(qctx, `DELETE FROM users WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return translate(ctx, err, "delete user %d", id)
	}
	return nil
}

// ListUsers returns up to q.Limit users with id > q.AfterID in id order;
// q.Search keeps those whose username or full name contains it, without
// regard to case, with LIKE's wildcards taken literally. A Limit outside
// 1..1000 is taken as 50 (below) or 1000 (above). Returns CodeUnavailable.
func (s *Store) ListUsers(ctx context.Context, q auth.UserQuery) ([]auth.User, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	var rows pgx.Rows
	var err error
	if q.Search == "" {
		rows, err = s.pool.Query(qctx, `SELECT `+userColumns+` FROM users WHERE id > $1 ORDER BY id LIMIT $2`,
			q.AfterID, auth.StorePageLimit(q.Limit))
	} else {
		rows, err = s.pool.Query(qctx, `
			SELECT `+userColumns+` FROM users
			WHERE id > $1 AND (username ILIKE $2 ESCAPE '\' OR full_name ILIKE $2 ESCAPE '\')
			ORDER BY id LIMIT $3`,
			q.AfterID, "%"+escapeLike(q.Search)+"%", auth.StorePageLimit(q.Limit))
	}
	if err != nil {
		return nil, translate(ctx, err, "list users")
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (auth.User, error) { return scanUser(r) })
	if err != nil {
		return nil, translate(ctx, err, "list users")
	}
	return users, nil
}

// escapeLike makes every character of a search term match only itself.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// CountActiveAdmins counts users who are both admin and active. Returns CodeUnavailable.
func (s *Store) CountActiveAdmins(ctx context.Context) (int, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	var n int
	if err := s.pool.QueryRow(qctx, `SELECT count(*) FROM users WHERE is_admin AND is_active`).Scan(&n); err != nil {
		return 0, translate(ctx, err, "count active admins")
	}
	return n, nil
}

// CountUsers reads the one row of user_counts, which triggers on users
// keep in the transaction of every insert, delete and change of the
// counted flags. Returns CodeUnavailable.
func (s *Store) CountUsers(ctx context.Context) (auth.UserCounts, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	var c auth.UserCounts
	err := s.pool.QueryRow(qctx, `SELECT total, active, admins, mfa_enabled FROM user_counts`).
		Scan(&c.Total, &c.Active, &c.Admins, &c.MFAEnabled)
	if err != nil {
		return auth.UserCounts{}, translate(ctx, err, "count users")
	}
	return c, nil
}

// RecordLogin sets last_login_at and, when rehash is not empty, the
// password hash, if the user is active and still has the verified hash;
// updated_at is left alone, as a login is not an edit.
// Returns ErrNotFound (CodeNotFound), CodeUnavailable.
func (s *Store) RecordLogin(ctx context.Context, id int64, at time.Time, verified, rehash string) (auth.User, error) {
	qctx, cancel := s.bound(ctx)
	defer cancel()
	u, err := scanUser(s.pool.QueryRow(qctx, `
		UPDATE users SET last_login_at = $2,
			password_hash = CASE WHEN $3 = '' THEN password_hash ELSE $3 END
		WHERE id = $1 AND is_active AND password_hash = $4
		RETURNING `+userColumns, id, at, rehash, verified))
	if err != nil {
		return auth.User{}, translate(ctx, err, "record login of user %d", id)
	}
	return u, nil
}
