package auth

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"
)

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

// validate returns CodeValidation for a full name or password that is not
// acceptable.
func (c UserChange) validate() error {
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
		return &Error{Code: CodeValidation, Message: "The change is not acceptable.", Fields: fields}
	}
	return nil
}

// fields names the fields c changes, sorted, for the audit event.
func (c UserChange) fields() []string {
	changed := []string{}
	for name, set := range map[string]bool{"full_name": c.FullName != nil, "is_admin": c.IsAdmin != nil, "is_active": c.IsActive != nil, "password": c.Password != nil} {
		if set {
			changed = append(changed, name)
		}
	}
	slices.Sort(changed)
	return changed
}

// UserPage is one page of users; NextCursor is empty on the last page.
type UserPage struct {
	Users      []User
	NextCursor string
}

// SessionList is one page of every user's live sessions, with totals.
type SessionList struct {
	Sessions   []Session
	NextCursor string
	Stats      SessionStats
}

// Authorize returns the acting user's current record if it is an active
// admin. Rights come from the record, not the token, so a demotion takes
// effect on the next request (docs/security.md 23). Every operation of
// Admin calls it first; the HTTP layer calls it too, to answer 403 before
// it reads a request body. Returns ErrForbidden, or ErrInvalidToken if the
// actor's record is gone.
func (s *Admin) Authorize(ctx context.Context, actor Session) (User, error) {
	return s.authorize(ctx, actor)
}

// User returns the user with id. Returns ErrForbidden for a non-admin
// actor and ErrNotFound.
func (s *Admin) User(ctx context.Context, actor Session, id int64) (User, error) {
	if _, err := s.authorize(ctx, actor); err != nil {
		return User{}, err
	}
	return s.users.User(ctx, id)
}

// ListUsers returns a page of users in id order, optionally only those
// whose username or full name contains q (without regard to case).
// Returns ErrForbidden for a non-admin actor, CodeValidation for a bad
// limit or q and CodeInvalidRequest for a malformed cursor.
func (s *Admin) ListUsers(ctx context.Context, actor Session, q, cursor string, limit int) (UserPage, error) {
	if _, err := s.authorize(ctx, actor); err != nil {
		return UserPage{}, err
	}
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

// CreateUser creates a local user. Returns ErrForbidden for a non-admin
// actor, CodeValidation for a bad username, password or full name and
// CodeConflict for a username that exists without regard to case.
func (s *Admin) CreateUser(ctx context.Context, actor Session, in NewUserInput) (User, error) {
	if _, err := s.authorize(ctx, actor); err != nil {
		return User{}, err
	}
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
// since admin rights are read from the record. Returns ErrForbidden for a
// non-admin actor, CodeValidation, CodeNotFound, and CodeConflict when the
// change would leave no active admin.
func (s *Admin) UpdateUser(ctx context.Context, actor Session, id int64, c UserChange) (User, error) {
	if _, err := s.authorize(ctx, actor); err != nil {
		return User{}, err
	}
	if err := c.validate(); err != nil {
		return User{}, err
	}
	p := UserPatch{FullName: c.FullName, IsAdmin: c.IsAdmin, IsActive: c.IsActive, UpdatedAt: s.now()}
	changed := c.fields()
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
// Returns ErrForbidden for a non-admin actor, CodeNotFound, and
// CodeConflict for the last active admin.
func (s *Admin) DeleteUser(ctx context.Context, actor Session, id int64) error {
	if _, err := s.authorize(ctx, actor); err != nil {
		return err
	}
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

// guardLastAdmin refuses, before anything is touched, a change that takes
// admin rights from the last active admin. The store checks again inside
// its transaction, which is what holds under concurrency; this early check
// keeps a refused change from logging the admin out on the way.
func (s *Admin) guardLastAdmin(ctx context.Context, u User, losesAdmin bool) error {
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

// ListSessions returns a page of every live session, oldest first, and
// counts of live sessions and users. The caller's own session is marked
// current. Returns ErrForbidden for a non-admin actor, CodeValidation for
// a bad limit and CodeInvalidRequest for a malformed cursor.
func (s *Admin) ListSessions(ctx context.Context, caller Session, cursor string, limit int) (SessionList, error) {
	if _, err := s.authorize(ctx, caller); err != nil {
		return SessionList{}, err
	}
	if err := checkLimit(limit); err != nil {
		return SessionList{}, err
	}
	if len(cursor) > 512 {
		return SessionList{}, Errorf(CodeInvalidRequest, "The cursor is not one this service issued.")
	}
	now := s.now()
	page, err := s.sessions.ListSessions(ctx, SessionQuery{Cursor: cursor, Limit: limit, Now: now})
	if err != nil {
		return SessionList{}, err
	}
	stats, err := s.sessions.SessionStats(ctx, now)
	if err != nil {
		return SessionList{}, err
	}
	for i := range page.Sessions {
		page.Sessions[i].Current = page.Sessions[i].ID == caller.ID
	}
	return SessionList{Sessions: page.Sessions, NextCursor: page.NextCursor, Stats: stats}, nil
}

// SessionsOfUser lists one user's live sessions for an admin. Returns
// ErrForbidden for a non-admin actor and CodeNotFound for an unknown user.
func (s *Admin) SessionsOfUser(ctx context.Context, caller Session, userID int64) ([]Session, error) {
	if _, err := s.authorize(ctx, caller); err != nil {
		return nil, err
	}
	if _, err := s.users.User(ctx, userID); err != nil {
		return nil, err
	}
	list, err := s.sessions.UserSessions(ctx, userID, s.now())
	if err != nil {
		return nil, err
	}
	for i := range list {
		list[i].Current = list[i].ID == caller.ID
	}
	return list, nil
}

// RevokeSessionsOfUser ends every session of a user for an admin and says
// how many it ended. It takes effect on the next request of every token
// of those sessions. Returns ErrForbidden for a non-admin actor and
// CodeNotFound for an unknown user.
func (s *Admin) RevokeSessionsOfUser(ctx context.Context, actor Session, userID int64) (int, error) {
	if _, err := s.authorize(ctx, actor); err != nil {
		return 0, err
	}
	u, err := s.users.User(ctx, userID)
	if err != nil {
		return 0, err
	}
	n, err := s.sessions.RevokeUserSessions(ctx, userID, "")
	if err != nil {
		return 0, err
	}
	s.record(ctx, Event{Type: EventSessionsRevoked, ActorID: actorID(actor), TargetID: &userID, Username: u.Username,
		Details: map[string]any{"revoked": n}})
	return n, nil
}

// Cleanup runs the cleanup job on an admin's request (POST /cleanup); the
// scheduler runs the same job through Maintenance.Cleanup. Returns
// ErrForbidden for a non-admin actor and what Maintenance.Cleanup returns.
func (s *Admin) Cleanup(ctx context.Context, actor Session) (CleanupResult, error) {
	if _, err := s.authorize(ctx, actor); err != nil {
		return CleanupResult{}, err
	}
	return s.cleanup(ctx, actorID(actor))
}
