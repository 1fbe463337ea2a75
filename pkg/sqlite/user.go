package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/sqlstore"
)

// mfa_enabled mirrors a row in user_mfa: EnableMFA and DisableMFA set it
// in the same transaction (the statistics triggers count the column).
const userColumns = `id, username, full_name, is_admin, is_active, source, created_at, updated_at, last_login_at, password_hash, mfa_enabled`

// scanner is what *sql.Row and *sql.Rows share.
type scanner interface {
	Scan(dest ...any) error
}

// querier is what *sql.DB and *sql.Tx share, so a statement can run in either.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func scanUser(row scanner) (auth.User, error) {
	var u auth.User
	var created, updated int64
	var lastLogin sql.NullInt64
	err := row.Scan(&u.ID, &u.Username, &u.FullName, &u.IsAdmin, &u.IsActive, &u.Source,
		&created, &updated, &lastLogin, &u.PasswordHash, &u.MFAEnabled)
	if err != nil {
		return auth.User{}, err
	}
	u.CreatedAt = fromMicros(created)
	u.UpdatedAt = fromMicros(updated)
	if lastLogin.Valid {
		t := fromMicros(lastLogin.Int64)
		u.LastLoginAt = &t
	}
	return u, nil
}

func insertUser(ctx context.Context, q querier, u auth.NewUser) (auth.User, error) {
	if u.Source == "" {
		u.Source = auth.SourceLocal
	}
	return scanUser(q.QueryRowContext(ctx, `
		INSERT INTO users (username, full_name, password_hash, is_admin, is_active, source, created_at, updated_at)
		VALUES (?, ?, ?, ?, 1, ?, ?, ?)
		RETURNING `+userColumns,
		u.Username, u.FullName, u.PasswordHash, u.IsAdmin, u.Source, micros(u.CreatedAt), micros(u.CreatedAt)))
}

// CreateUser inserts u as an active user; an empty Source means
// auth.SourceLocal. Returns ErrUsernameTaken (CodeConflict) if the username
// exists in any case, CodeUnavailable.
func (s *Store) CreateUser(ctx context.Context, u auth.NewUser) (auth.User, error) {
	out, err := insertUser(ctx, s.db, u)
	if err != nil {
		return auth.User{}, translate(ctx, err, "create user %q", u.Username)
	}
	return out, nil
}

// CreateFirstAdmin inserts u as an admin if no admin exists, checking and
// inserting in one write transaction so that concurrent starts create
// exactly one. It reports whether it created the user; when an admin
// already exists it returns the zero User and false. Returns
// ErrUsernameTaken (CodeConflict) if no admin exists but the username
// does, CodeUnavailable.
func (s *Store) CreateFirstAdmin(ctx context.Context, u auth.NewUser) (auth.User, bool, error) {
	u.IsAdmin = true
	var out auth.User
	created := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE is_admin)`).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		var err error
		out, err = insertUser(ctx, tx, u)
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
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if err != nil {
		return auth.User{}, translate(ctx, err, "user %d", id)
	}
	return u, nil
}

// UserByUsername finds a user without regard to case. Returns ErrNotFound
// (CodeNotFound), CodeUnavailable.
func (s *Store) UserByUsername(ctx context.Context, username string) (auth.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE lower(username) = lower(?)`, username))
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
	var out auth.User
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
		if err != nil {
			return err
		}
		next := sqlstore.ApplyPatch(cur, p)
		if sqlstore.LosesActiveAdmin(cur, next) {
			if err := requireOtherAdmin(ctx, tx, id); err != nil {
				return err
			}
		}
		out, err = scanUser(tx.QueryRowContext(ctx, `
			UPDATE users SET full_name = ?, is_admin = ?, is_active = ?, password_hash = ?, updated_at = ?
			WHERE id = ?
			RETURNING `+userColumns,
			next.FullName, next.IsAdmin, next.IsActive, next.PasswordHash, micros(p.UpdatedAt), id))
		return err
	})
	if err != nil {
		return auth.User{}, translate(ctx, err, "update user %d", id)
	}
	return out, nil
}

// requireOtherAdmin returns ErrLastAdmin unless an active admin other than
// id exists. The caller is in a write transaction, which SQLite runs alone,
// so the answer stays true until it commits.
func requireOtherAdmin(ctx context.Context, tx *sql.Tx, id int64) error {
	var others bool
	err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE is_admin AND is_active AND id <> ?)`, id).Scan(&others)
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
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var admin, active bool
		err := tx.QueryRowContext(ctx, `SELECT is_admin, is_active FROM users WHERE id = ?`, id).Scan(&admin, &active)
		if err != nil {
			return err
		}
		if admin && active {
			if err := requireOtherAdmin(ctx, tx, id); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return translate(ctx, err, "delete user %d", id)
	}
	return nil
}

// ListUsers returns up to q.Limit users with id > q.AfterID in id order;
// q.Search keeps those whose username or full name contains it, without
// regard to case. A Limit outside 1..1000 is taken as 50 (below) or 1000
// (above). Returns CodeUnavailable.
//
// SQLite folds only ASCII case, and full names are not ASCII, so the search
// is done here with Unicode folding, as PostgreSQL's ILIKE does it: rows are
// read in id order until the page is full. That scans more rows than an
// index would, which suits the embedded store's size.
func (s *Store) ListUsers(ctx context.Context, q auth.UserQuery) ([]auth.User, error) {
	limit := auth.StorePageLimit(q.Limit)
	sqlLimit := limit
	if q.Search != "" {
		sqlLimit = -1 // none: the filter below decides when the page is full
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE id > ? ORDER BY id LIMIT ?`, q.AfterID, sqlLimit)
	if err != nil {
		return nil, translate(ctx, err, "list users")
	}
	defer rows.Close()
	term := strings.ToLower(q.Search)
	users := []auth.User{}
	for len(users) < limit && rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, translate(ctx, err, "list users")
		}
		if term == "" || strings.Contains(strings.ToLower(u.Username), term) || strings.Contains(strings.ToLower(u.FullName), term) {
			users = append(users, u)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, err, "list users")
	}
	return users, nil
}

// CountActiveAdmins counts users who are both admin and active. Returns CodeUnavailable.
func (s *Store) CountActiveAdmins(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE is_admin AND is_active`).Scan(&n); err != nil {
		return 0, translate(ctx, err, "count active admins")
	}
	return n, nil
}

// CountUsers reads the one row of user_counts, which triggers on users
// keep in the transaction of every insert, delete and change of the
// counted flags. Returns CodeUnavailable.
func (s *Store) CountUsers(ctx context.Context) (auth.UserCounts, error) {
	var c auth.UserCounts
	err := s.db.QueryRowContext(ctx, `SELECT total, active, admins, mfa_enabled FROM user_counts`).
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
	u, err := scanUser(s.db.QueryRowContext(ctx, `
		UPDATE users SET last_login_at = ?,
			password_hash = CASE WHEN ? = '' THEN password_hash ELSE ? END
		WHERE id = ? AND is_active AND password_hash = ?
		RETURNING `+userColumns, micros(at), rehash, rehash, id, verified))
	if err != nil {
		return auth.User{}, translate(ctx, err, "record login of user %d", id)
	}
	return u, nil
}
