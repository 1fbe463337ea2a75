package auth

import (
	"context"
	"strings"
)

// RevokeToken ends the session of an access or a refresh token of this
// service (RFC 7009). The token's form tells which it is, so a client's
// token_type_hint is not needed. A token that proves nothing ends nothing
// and is no error either: RFC 7009 §2.2 answers unknown, malformed, expired
// and already revoked tokens like the rest, so a caller learns nothing
// about which tokens exist.
//
//   - A refresh token is honoured only if its secret is the session's
//     current one or one the session rotated out (docs/security.md 20): a
//     user id and a session id alone, which an access token also shows,
//     end nothing. A rotated-out token is honoured because presenting it
//     to refresh would already end the session (reuse detection) or, within
//     the grace period, means its holder raced its own refresh.
//   - An access token is honoured only while it is valid now: signature,
//     algorithm, iss, aud and exp (with the usual leeway) all verify, as
//     for any request (docs/security.md 16: no "expired, so allow something
//     else" branch). An expired access token's session is ended by revoking
//     the refresh token, which the client holds too.
//
// A session it ends is audited as session.revoked with via "revoke".
// Returns CodeUnavailable when the session store is down.
func (s *Sessions) RevokeToken(ctx context.Context, token string) error {
	if strings.HasPrefix(token, refreshPrefix) {
		userID, sid, ok := parseRefreshToken(token)
		if !ok {
			return nil
		}
		ended, err := s.sessions.RevokeByRefresh(ctx, userID, sid, hashToken(token))
		if err != nil || !ended {
			return err
		}
		s.record(ctx, Event{Type: EventSessionRevoked, ActorID: &userID, TargetID: &userID,
			Details: map[string]any{"session_id": sid, "via": "revoke"}})
		return nil
	}
	c, err := s.tokens.Parse(token)
	if err != nil || !validSessionID(c.SessionID) {
		return nil
	}
	userID := c.UserID()
	ended, err := s.sessions.RevokeSession(ctx, userID, c.SessionID)
	if err != nil || !ended {
		return err
	}
	s.record(ctx, Event{Type: EventSessionRevoked, ActorID: &userID, TargetID: &userID, Username: c.Username,
		Details: map[string]any{"session_id": c.SessionID, "via": "revoke"}})
	return nil
}
