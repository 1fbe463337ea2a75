package auth

import (
	"context"
	"errors"
)

// Me returns the caller's own record: one primary-key read. A caller whose
// record is gone has no valid token any more. Returns ErrInvalidToken.
func (s *Sessions) Me(ctx context.Context, sess Session) (User, error) {
	u, err := s.users.User(ctx, sess.UserID)
	if errors.Is(err, ErrNotFound) {
		return User{}, ErrInvalidToken
	}
	return u, err
}

// MySessions lists the caller's live sessions, marking the current one.
func (s *Sessions) MySessions(ctx context.Context, sess Session) ([]Session, error) {
	list, err := s.sessions.UserSessions(ctx, sess.UserID, s.now())
	if err != nil {
		return nil, err
	}
	for i := range list {
		list[i].Current = list[i].ID == sess.ID
	}
	return list, nil
}

// EndOwnSession ends one of the caller's own sessions (the current one
// included). Returns ErrNotFound for an id that is not a live session of
// the caller, so that other users' session ids cannot be probed.
func (s *Sessions) EndOwnSession(ctx context.Context, sess Session, sessionID string) error {
	if !validSessionID(sessionID) {
		return ErrNotFound
	}
	ok, err := s.sessions.RevokeSession(ctx, sess.UserID, sessionID)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	s.record(ctx, Event{Type: EventSessionRevoked, ActorID: &sess.UserID, TargetID: &sess.UserID, Username: sess.Username,
		Details: map[string]any{"session_id": sessionID}})
	return nil
}

// ChangePassword sets a new password after checking the current one, then
// ends every other session of the caller (docs/security.md 4). A wrong current
// password is ErrInvalidCredentials and counts against the same throttle
// as a failed login, so a stolen access token cannot be used to guess it.
// Returns CodeValidation for a bad new password, CodeRateLimited while
// locked out, CodeConflict for a user whose password lives upstream.
func (s *Sessions) ChangePassword(ctx context.Context, sess Session, current, next string) error {
	if msg := validatePassword(next); msg != "" {
		return &Error{Code: CodeValidation, Message: "The new password is not acceptable.", Fields: map[string]string{"new_password": msg}}
	}
	now := s.now()
	a, err := s.beginAttempt(ctx, now, sess.Username)
	if err != nil {
		return err
	}
	u, err := s.Me(ctx, sess)
	if err == nil && u.Source != SourceLocal {
		err = Errorf(CodeConflict, "This account's password is managed by %s.", u.Source)
	}
	if err != nil {
		s.abandon(ctx, a)
		return err
	}
	if !s.hasher.check(u.PasswordHash, current) {
		return s.loginFailed(ctx, a, u.Username, u.ID, "wrong_current_password")
	}
	if err := s.attemptSucceeded(ctx, a); err != nil {
		return err
	}
	hash, err := s.hasher.hash(next)
	if err != nil {
		return err
	}
	n, err := s.withSessionsEnded(ctx, u.ID, sess.ID, func() error {
		_, err := s.users.UpdateUser(ctx, u.ID, UserPatch{PasswordHash: &hash, UpdatedAt: now})
		return err
	})
	if err != nil {
		return err
	}
	s.record(ctx, Event{Type: EventPasswordChanged, ActorID: &u.ID, TargetID: &u.ID, Username: u.Username,
		Details: map[string]any{"sessions_revoked": n}})
	return nil
}
