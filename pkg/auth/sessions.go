package auth

import (
	"context"
)

// SessionList is one page of every user's live sessions, with totals.
type SessionList struct {
	Sessions   []Session
	NextCursor string
	Stats      SessionStats
}

// ListSessions returns a page of every live session, oldest first, and
// counts of live sessions and users. The caller's own session is marked
// current. Returns CodeValidation for a bad limit and CodeInvalidRequest
// for a malformed cursor.
func (s *Service) ListSessions(ctx context.Context, caller Session, cursor string, limit int) (SessionList, error) {
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
// CodeNotFound for an unknown user.
func (s *Service) SessionsOfUser(ctx context.Context, caller Session, userID int64) ([]Session, error) {
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
// of those sessions. Returns CodeNotFound for an unknown user.
func (s *Service) RevokeSessionsOfUser(ctx context.Context, actor Session, userID int64) (int, error) {
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
