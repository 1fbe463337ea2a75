package auth

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Page bounds of every listing (docs/api.md: limit 1-200, default 50).
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 200
)

// maxFullName bounds a full name in characters.
const maxFullName = 128

// NewUserInput is what an admin sends to create a user.
type NewUserInput struct {
	Username string
	Password string
	FullName string
	IsAdmin  bool
}

// UserChange is what an admin may change; nil fields are left alone.
type UserChange struct {
	FullName *string
	IsAdmin  *bool
	IsActive *bool
	Password *string
}

// UserPage is one page of users; NextCursor is empty on the last page.
type UserPage struct {
	Users      []User
	NextCursor string
}

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

// CreateUser creates a local user. Returns CodeValidation for a bad
// username, password or full name and CodeConflict for a username that
// exists without regard to case.
func (s *Service) CreateUser(ctx context.Context, actor Session, in NewUserInput) (User, error) {
	fields := map[string]string{}
	if !ValidUsername(in.Username) {
		fields["username"] = usernameRule
	}
	if msg := validatePassword(in.Password); msg != "" {
		fields["password"] = msg
	}
	if msg := validateFullName(in.FullName); msg != "" {
		fields["full_name"] = msg
	}
	if len(fields) > 0 {
		return User{}, &Error{Code: CodeValidation, Message: "The user is not acceptable.", Fields: fields}
	}
	hash, err := s.hasher.hash(in.Password)
	if err != nil {
		return User{}, err
	}
	u, err := s.users.CreateUser(ctx, NewUser{
		Username: in.Username, FullName: in.FullName, PasswordHash: hash,
		IsAdmin: in.IsAdmin, Source: SourceLocal, CreatedAt: s.now(),
	})
	if err != nil {
		return User{}, err
	}
	s.record(ctx, Event{Type: EventUserCreated, ActorID: actorID(actor), TargetID: &u.ID, Username: u.Username,
		Details: map[string]any{"is_admin": u.IsAdmin}})
	return u, nil
}

// UpdateUser changes a user. A new password or deactivation ends all of
// the user's sessions; a demotion takes effect on the user's next request,
// since admin rights are read from the record. Returns CodeValidation,
// CodeNotFound, and CodeConflict when the change would leave no active admin.
func (s *Service) UpdateUser(ctx context.Context, actor Session, id int64, c UserChange) (User, error) {
	fields := map[string]string{}
	if c.FullName != nil {
		if msg := validateFullName(*c.FullName); msg != "" {
			fields["full_name"] = msg
		}
	}
	if c.Password != nil {
		if msg := validatePassword(*c.Password); msg != "" {
			fields["password"] = msg
		}
	}
	if len(fields) > 0 {
		return User{}, &Error{Code: CodeValidation, Message: "The change is not acceptable.", Fields: fields}
	}
	p := UserPatch{FullName: c.FullName, IsAdmin: c.IsAdmin, IsActive: c.IsActive, UpdatedAt: s.now()}
	changed := []string{}
	for name, set := range map[string]bool{"full_name": c.FullName != nil, "is_admin": c.IsAdmin != nil, "is_active": c.IsActive != nil, "password": c.Password != nil} {
		if set {
			changed = append(changed, name)
		}
	}
	slices.Sort(changed)
	cur, err := s.users.User(ctx, id)
	if err != nil || len(changed) == 0 {
		return cur, err // an empty patch changes nothing
	}
	if c.Password != nil && cur.Source != SourceLocal {
		// Its password is checked upstream at every sign-in; a local one
		// would never be read.
		return User{}, Errorf(CodeConflict, "This user's password is managed by %s.", cur.Source)
	}
	if c.IsAdmin != nil && *c.IsAdmin != cur.IsAdmin && cur.Source != SourceLocal {
		// The upstream sets the admin flag at every sign-in; a change here
		// would be undone silently. (Deactivating here does stick.)
		return User{}, Errorf(CodeConflict, "This user's admin rights are managed by %s.", cur.Source)
	}
	losesAdmin := (c.IsAdmin != nil && !*c.IsAdmin) || (c.IsActive != nil && !*c.IsActive)
	if err := s.guardLastAdmin(ctx, cur, losesAdmin); err != nil {
		return User{}, err
	}
	if c.Password != nil {
		hash, err := s.hasher.hash(*c.Password)
		if err != nil {
			return User{}, err
		}
		p.PasswordHash = &hash
	}
	var u User
	update := func() error {
		var err error
		u, err = s.users.UpdateUser(ctx, id, p)
		return err
	}
	if c.IsAdmin != nil && *c.IsAdmin != cur.IsAdmin {
		update = s.withAdminFlag(ctx, id, *c.IsAdmin, &u, update)
	}
	revoked := 0
	if c.Password != nil || (c.IsActive != nil && !*c.IsActive) {
		revoked, err = s.withSessionsEnded(ctx, id, "", update)
	} else {
		err = update()
	}
	if err != nil {
		return User{}, err
	}
	s.record(ctx, Event{Type: EventUserUpdated, ActorID: actorID(actor), TargetID: &u.ID, Username: u.Username,
		Details: map[string]any{"changed": changed, "is_admin": u.IsAdmin, "is_active": u.IsActive, "sessions_revoked": revoked}})
	return u, nil
}

// DeleteUser deletes a user, their preferences and their sessions.
// Returns CodeNotFound, and CodeConflict for the last active admin.
func (s *Service) DeleteUser(ctx context.Context, actor Session, id int64) error {
	u, err := s.users.User(ctx, id)
	if err != nil {
		return err
	}
	if err := s.guardLastAdmin(ctx, u, true); err != nil {
		return err
	}
	revoked, err := s.withSessionsEnded(ctx, id, "", func() error { return s.users.DeleteUser(ctx, id) })
	if err != nil {
		return err
	}
	s.record(ctx, Event{Type: EventUserDeleted, ActorID: actorID(actor), TargetID: &id, Username: u.Username,
		Details: map[string]any{"sessions_revoked": revoked}})
	return nil
}

// ListUsers returns a page of users in id order, optionally only those
// whose username or full name contains q (without regard to case).
// Returns CodeValidation for a bad limit or q and CodeInvalidRequest for a
// malformed cursor.
func (s *Service) ListUsers(ctx context.Context, q, cursor string, limit int) (UserPage, error) {
	if err := checkLimit(limit); err != nil {
		return UserPage{}, err
	}
	badQ := ""
	switch {
	case !utf8.ValidString(q) || strings.ContainsRune(q, 0):
		badQ = "must be UTF-8 text without NUL characters"
	case utf8.RuneCountInString(q) > 64:
		badQ = "must be at most 64 characters"
	}
	if badQ != "" {
		return UserPage{}, &Error{Code: CodeValidation, Message: "The search term is not acceptable.", Fields: map[string]string{"q": badQ}}
	}
	after, err := decodeIDCursor(cursor)
	if err != nil {
		return UserPage{}, err
	}
	users, err := s.users.ListUsers(ctx, UserQuery{Search: q, AfterID: after, Limit: limit + 1})
	if err != nil {
		return UserPage{}, err
	}
	page := UserPage{Users: users}
	if len(users) > limit {
		page.Users = users[:limit]
		page.NextCursor = encodeIDCursor(users[limit-1].ID)
	}
	return page, nil
}

// StorePageLimit is the page size a store uses for a query's limit n:
// DefaultPageLimit for n ≤ 0, at most 1000. The core checks limits
// against docs/api.md before they get here; stores clamp again so that no
// caller, however wrong, can make one query unbounded.
func StorePageLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultPageLimit
	case n > 1000:
		return 1000
	}
	return n
}

// checkLimit returns CodeValidation for a page size outside 1..MaxPageLimit.
func checkLimit(limit int) error {
	if limit < 1 || limit > MaxPageLimit {
		return &Error{Code: CodeValidation, Message: "The page size is out of range.", Fields: map[string]string{"limit": fmt.Sprintf("must be between 1 and %d", MaxPageLimit)}}
	}
	return nil
}

// ID cursors are opaque to clients: base64url of "u:<id>", so that a
// client is not tempted to build one and the format may change.
func encodeIDCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("u:" + strconv.FormatInt(id, 10)))
}

func decodeIDCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	bad := &Error{Code: CodeInvalidRequest, Message: "The cursor is not one this service issued."}
	if len(c) > 64 {
		return 0, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(raw), "u:") {
		return 0, bad
	}
	id, err := strconv.ParseInt(string(raw[2:]), 10, 64)
	if err != nil || id < 0 {
		return 0, bad
	}
	return id, nil
}

func actorID(actor Session) *int64 {
	if actor.UserID == 0 {
		return nil
	}
	id := actor.UserID
	return &id
}

// guardLastAdmin refuses, before anything is touched, a change that takes
// admin rights from the last active admin. The store checks again inside
// its transaction, which is what holds under concurrency; this early check
// keeps a refused change from logging the admin out on the way.
func (s *Service) guardLastAdmin(ctx context.Context, u User, losesAdmin bool) error {
	if !losesAdmin || !u.IsAdmin || !u.IsActive {
		return nil
	}
	n, err := s.users.CountActiveAdmins(ctx)
	if err != nil {
		return err
	}
	if n <= 1 {
		return ErrLastAdmin
	}
	return nil
}
