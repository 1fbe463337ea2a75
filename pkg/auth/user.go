package auth

import (
	"context"
	"fmt"
	"regexp"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sources of a user record.
const (
	SourceLocal    = "local"    // password checked here
	SourceGPUStack = "gpustack" // password checked by the upstream GPUStack server
)

// User is an account. PasswordHash never leaves the core: it has no JSON name.
type User struct {
	ID           int64      `json:"id"`
	Username     string     `json:"username"`
	FullName     string     `json:"full_name"`
	IsAdmin      bool       `json:"is_admin"`
	IsActive     bool       `json:"is_active"`
	Source       string     `json:"source"`
	MFAEnabled   bool       `json:"mfa_enabled"` // a second factor (TOTP) is asked at login
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	LastLoginAt  *time.Time `json:"last_login_at"`
	PasswordHash string     `json:"-"`
}

// NewUser is what a store needs to create a user. Times are set by the core
// (truncated to microseconds, the precision every store keeps).
type NewUser struct {
	Username     string
	FullName     string
	PasswordHash string // empty for users whose password lives upstream
	IsAdmin      bool
	Source       string
	CreatedAt    time.Time
}

// UserPatch changes the non-nil fields of a user; UpdatedAt is always set.
type UserPatch struct {
	FullName     *string
	IsAdmin      *bool
	IsActive     *bool
	PasswordHash *string
	UpdatedAt    time.Time
}

// UserQuery selects a page of users ordered by id.
type UserQuery struct {
	Search  string // matched, without regard to case, as a substring of username or full name
	AfterID int64  // only ids greater than this
	Limit   int    // at most this many (1..1000)
}

// UserCounts counts users: all of them, the active ones, and among those
// the admins and the ones with MFA on (a deactivated account holds no
// rights, so it counts only in Total).
type UserCounts struct {
	Total      int64 `json:"total"`
	Active     int64 `json:"active"`
	Admins     int64 `json:"admins"`
	MFAEnabled int64 `json:"mfa_enabled"`
}

// UserStore keeps users. Usernames are unique without regard to case.
// Implementations translate driver errors: ErrNotFound, ErrUsernameTaken,
// ErrLastAdmin, and Unavailable for a store that cannot be reached.
type UserStore interface {
	// CreateUser inserts u. Returns ErrUsernameTaken.
	CreateUser(ctx context.Context, u NewUser) (User, error)
	// CreateFirstAdmin inserts u as an admin only if no admin exists, atomically
	// with that check. It reports whether it created one.
	CreateFirstAdmin(ctx context.Context, u NewUser) (User, bool, error)
	// User returns the user with id. Returns ErrNotFound.
	User(ctx context.Context, id int64) (User, error)
	// UserByUsername finds a user without regard to case. Returns ErrNotFound.
	UserByUsername(ctx context.Context, username string) (User, error)
	// UpdateUser applies p in one transaction. Returns ErrNotFound, or
	// ErrLastAdmin if the change would leave no active admin.
	UpdateUser(ctx context.Context, id int64, p UserPatch) (User, error)
	// DeleteUser removes a user and their preferences. Returns ErrNotFound or ErrLastAdmin.
	DeleteUser(ctx context.Context, id int64) error
	// ListUsers returns up to q.Limit users with id > q.AfterID, ordered by id.
	ListUsers(ctx context.Context, q UserQuery) ([]User, error)
	// CountActiveAdmins counts users that are both admin and active.
	CountActiveAdmins(ctx context.Context) (int, error)
	// CountUsers counts users for GET /stats, at the cost of one
	// primary-key read however many there are.
	CountUsers(ctx context.Context) (UserCounts, error)
	// RecordLogin sets last_login_at and, when rehash is not empty, replaces
	// the password hash (a cost change), but only while the user is active
	// and their hash is still verified, the one the password was checked
	// against. A login that raced a deactivation or a password change thus
	// finds no row. It returns the user as the write left them: as fresh
	// as a read after it. Returns ErrNotFound.
	RecordLogin(ctx context.Context, id int64, at time.Time, verified, rehash string) (User, error)
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
}

// usernamePattern is docs/api.md's rule. Letters are ASCII so that "without
// regard to case" means the same in Go, PostgreSQL and SQLite, and no two
// names can differ only by look-alike Unicode letters.
var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9._@-]{3,64}$`)

// ValidUsername reports whether name matches docs/api.md's username rule.
func ValidUsername(name string) bool { return usernamePattern.MatchString(name) }

// usernameRule is the field message for a bad username.
const usernameRule = "must be 3-64 characters of letters, digits and . _ - @"

// maxFullName bounds a full name in characters.
const maxFullName = 128

// validateFullName returns a field message, or "".
func validateFullName(n string) string {
	if utf8.RuneCountInString(n) > maxFullName {
		return fmt.Sprintf("must be at most %d characters", maxFullName)
	}
	for _, r := range n {
		if unicode.IsControl(r) {
			return "must not contain control characters"
		}
	}
	return ""
}
