package auth

import (
	"context"
)

// The admin flag lives in the user record (PostgreSQL) and, copied, in
// every session of the user (Redis: Session.Admin), so that a verifier
// (GET /verify, the Lambda authorizer) knows the user's current rights in
// one Redis round trip (docs/security.md 33). The access token's admin
// claim is no such copy: it stays as it was for the token's lifetime. The
// functions below keep the copy from ever saying admin when the record no
// longer does; when the two disagree the other way (a failed write, a
// login racing a promotion) the copy says "not admin" until the next
// login, which denies rather than grants.

// withAdminFlag wraps change, a write to the user store that sets the
// user's admin flag to admin, so that the sessions' copy follows at once.
// u is where change leaves the user as written; its IsAdmin && IsActive is
// what the sessions carry after the write (a write may keep the flag, as
// synchronise does for the last admin). The result is itself a change, so
// that it composes with withSessionsEnded.
//
// A demotion mirrors withSessionsEnded: the sessions lose the flag before
// the write, so that a failed or half-done change can only have taken
// rights away, and again after it, for a session that a login racing the
// change created with the flag it read before the write (startSession then
// checks the record once more: see confirmAdmin). A promotion sets the flag
// after the write only. A Redis failure before the write fails the change
// (CodeUnavailable); after it, the write has happened and is reported as
// done, and the failure is logged.
func (s *core) withAdminFlag(ctx context.Context, userID int64, admin bool, u *User, change func() error) func() error {
	return func() error {
		if !admin {
			if _, err := s.sessions.SetUserAdmin(ctx, userID, false); err != nil {
				return err
			}
		}
		if err := change(); err != nil {
			return err
		}
		if _, err := s.sessions.SetUserAdmin(ctx, userID, u.IsAdmin && u.IsActive); err != nil {
			s.logger.ErrorContext(ctx, "admin flag of sessions not updated after the write", "user_id", userID, "err", err)
		}
		return nil
	}
}

// confirmAdmin checks the record of an admin who has just logged in again,
// cur, as the login's write (RecordLogin) left it after the session (sid,
// created with Admin true) existed: a demotion that landed while the login
// checked the password clears the flag of the user's sessions only after
// its own write, so either it clears this session's too, or cur shows the
// demotion and the flag is cleared here. It returns the user as the token
// must describe them (the fresh record when it differs). A flag that
// cannot be cleared ends the session and fails the login
// (CodeUnavailable): the rights it would carry could not be confirmed.
func (s *core) confirmAdmin(ctx context.Context, u, cur User, sid string) (User, error) {
	if !u.IsAdmin {
		return u, nil
	}
	if cur.IsAdmin && cur.IsActive {
		return u, nil
	}
	if _, err := s.sessions.SetUserAdmin(ctx, u.ID, false); err != nil {
		_, _ = s.sessions.RevokeSession(context.WithoutCancel(ctx), u.ID, sid)
		return User{}, err
	}
	return cur, nil
}
