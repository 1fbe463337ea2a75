package auth

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"
)

// upstreamLogin signs in a user whose password lives upstream: one not
// known here (provisioned on the first success) or one provisioned
// earlier (synchronised on every success). A wrong upstream password is
// the same failure as any other and counts against the same throttle; an
// upstream that cannot be asked is CodeUnavailable, for this path only.
func (s *Sessions) upstreamLogin(ctx context.Context, a attempt, username, password, code string, u User, found bool) (TokenPair, error) {
	now := a.now
	// The dummy hash runs alongside the upstream call, so this path never
	// answers faster than a local check would: response times do not tell
	// local names from others.
	hashed := make(chan struct{})
	go func() {
		s.hasher.check("", password)
		close(hashed)
	}()
	p, err := s.upstream.Authenticate(ctx, username, password)
	<-hashed
	var target *int64
	if found {
		target = &u.ID
	}
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		return TokenPair{}, s.loginFailed(ctx, a, username, u.ID, "upstream_rejected")
	case err != nil:
		s.abandon(ctx, a)
		s.record(ctx, Event{Type: EventUpstreamFailed, TargetID: target, Username: auditName(username),
			Details: map[string]any{"upstream": s.upstream.Source(), "code": string(ErrorCode(err))}})
		return TokenPair{}, upstreamFailed{err}
	}
	if found && p.Username != u.Username {
		// Names here are unique without regard to case, upstream they may
		// not be: the upstream vouched for "bob", not for the local "Bob".
		return TokenPair{}, s.loginFailed(ctx, a, username, u.ID, "upstream_other_user")
	}
	if !found {
		if !p.IsActive {
			return TokenPair{}, s.loginFailed(ctx, a, username, 0, "upstream_inactive")
		}
		if u, err = s.provision(ctx, p, now); err != nil {
			return TokenPair{}, err
		}
	} else if u, err = s.synchronise(ctx, u, p, now); err != nil {
		return TokenPair{}, err
	}
	if !u.IsActive {
		return TokenPair{}, s.loginFailed(ctx, a, username, u.ID, "upstream_inactive")
	}
	// A provisioned user may turn MFA on like any other (docs/api.md).
	amr, err := s.secondFactor(ctx, a, u, code, now)
	if err != nil {
		return TokenPair{}, err
	}
	if err := s.attemptSucceeded(ctx, a); err != nil {
		return TokenPair{}, err
	}
	return s.startSession(ctx, u, now, "", amr)
}

// provision creates the local record of an upstream user on their first
// sign-in: no local password, source naming the upstream.
func (s *Sessions) provision(ctx context.Context, p UpstreamUser, now time.Time) (User, error) {
	u, err := s.users.CreateUser(ctx, NewUser{
		Username: p.Username, FullName: cleanFullName(p.FullName), IsAdmin: p.IsAdmin,
		Source: s.upstream.Source(), CreatedAt: now,
	})
	if errors.Is(err, ErrUsernameTaken) {
		// A concurrent first sign-in of the same user got there first; a
		// local user, or an upstream one whose name differs only in case,
		// that appeared meanwhile is not taken over.
		u, err = s.users.UserByUsername(ctx, p.Username)
		if err == nil && (u.Source != s.upstream.Source() || u.Username != p.Username) {
			return User{}, ErrInvalidCredentials
		}
		return u, err
	}
	if err != nil {
		return User{}, err
	}
	s.record(ctx, Event{Type: EventUserProvisioned, ActorID: &u.ID, TargetID: &u.ID, Username: u.Username,
		Details: map[string]any{"upstream": u.Source, "is_admin": u.IsAdmin}})
	return u, nil
}

// synchronise copies the upstream's full name and admin flag onto the
// local record, and its deactivation: a user deactivated upstream loses
// every session here at once. A user deactivated here stays so.
func (s *Sessions) synchronise(ctx context.Context, u User, p UpstreamUser, now time.Time) (User, error) {
	name := cleanFullName(p.FullName)
	patch := UserPatch{UpdatedAt: now}
	var changed []string
	if name != u.FullName {
		patch.FullName, changed = &name, append(changed, "full_name")
	}
	if p.IsAdmin != u.IsAdmin {
		patch.IsAdmin, changed = &p.IsAdmin, append(changed, "is_admin")
	}
	// The upstream may deactivate a user here, never reactivate one: an
	// admin's deactivation here must not be undone by the next sign-in.
	if !p.IsActive && u.IsActive {
		patch.IsActive, changed = &p.IsActive, append(changed, "is_active")
	}
	if len(changed) == 0 {
		return u, nil
	}
	update := func() error {
		next, err := s.users.UpdateUser(ctx, u.ID, patch)
		if errors.Is(err, ErrLastAdmin) {
			// The upstream may not demote the last active admin here: keep
			// the rights and apply the rest.
			patch.IsAdmin, patch.IsActive = nil, nil
			next, err = s.users.UpdateUser(ctx, u.ID, patch)
		}
		u = next
		return err
	}
	if patch.IsAdmin != nil {
		update = s.withAdminFlag(ctx, u.ID, p.IsAdmin, &u, update)
	}
	revoked := 0
	var err error
	if !p.IsActive {
		revoked, err = s.withSessionsEnded(ctx, u.ID, "", update)
	} else {
		err = update()
	}
	if err != nil {
		return User{}, err
	}
	s.record(ctx, Event{Type: EventUserSynchronised, TargetID: &u.ID, Username: u.Username, Details: map[string]any{
		"upstream": u.Source, "changed": changed, "is_admin": u.IsAdmin, "is_active": u.IsActive, "sessions_revoked": revoked,
	}})
	return u, nil
}

// cleanFullName makes an upstream's full name fit the local rules:
// control characters dropped, at most maxFullName characters.
func cleanFullName(n string) string {
	n = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, n)
	if r := []rune(n); len(r) > maxFullName {
		n = string(r[:maxFullName])
	}
	return n
}
