package auth

import (
	"context"
	"errors"
	"time"
)

// Reasons in the details of the user.synchronised events the re-check
// writes (a sign-in's synchronisation writes none).
const (
	ReasonUpstreamDeactivated = "upstream_deactivated"
	ReasonUpstreamDeleted     = "upstream_deleted"
)

// recheckPage is how many local users one store query of the re-check reads.
const recheckPage = 1000

// upstreamRecheck is what one re-check did; see CleanupResult.
type upstreamRecheck struct {
	checked, deactivated, failures int64
	complete                       bool
}

// recheckUpstream deactivates, and logs out everywhere, each active local
// user of the directory's source whom the directory lists as inactive or
// does not list at all. Without a sign-in, a user GPUStack took access
// from would otherwise keep their sessions here until these end.
//
// It acts only on a complete listing: a listing that fails in any way
// (the directory never returns part of one) changes nothing and is
// counted. Users of another source are never touched, nor those
// provisioned since the listing began, nor the last active admin
// (docs/security.md 24). A user the upstream re-activated
// stays deactivated here: like a sign-in's synchronisation, the upstream
// may take access away, never give it back.
//
// The listing gets at most half the time left in ctx, so that the rest of
// cleanup still fits; the walk over local users stops a second before the
// deadline, and the next run carries on (complete false).
func (s *core) recheckUpstream(ctx context.Context) upstreamRecheck {
	r := upstreamRecheck{complete: true}
	if s.directory == nil {
		return r
	}
	src := s.directory.Source()
	listCtx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		listCtx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(dl)/2))
		defer cancel()
	}
	// A user provisioned after the listing began may be missing from it
	// only because they are that new: they are left to the next run.
	listedAt := s.now()
	list, err := s.directory.ListUsers(listCtx)
	if err != nil {
		r.failures++
		s.logger.WarnContext(ctx, "upstream re-check skipped: its user list could not be read, so no user was changed",
			"upstream", src, "err", err)
		return r
	}
	active := make(map[string]bool, len(list))
	for _, p := range list {
		active[p.Username] = p.IsActive
	}
	for after := int64(0); ; {
		if lowOnTime(ctx) {
			r.complete = false
			return r
		}
		page, err := s.users.ListUsers(ctx, UserQuery{AfterID: after, Limit: recheckPage})
		if err != nil {
			r.failures++
			s.logger.WarnContext(ctx, "upstream re-check stopped: local users could not be read", "upstream", src, "err", err)
			return r
		}
		for _, u := range page {
			if u.Source != src || !u.IsActive || !u.CreatedAt.Before(listedAt) {
				continue
			}
			r.checked++
			// Names match exactly: a sign-in provisions and accepts only
			// the upstream's own spelling.
			isActive, listed := active[u.Username]
			if isActive {
				continue
			}
			reason := ReasonUpstreamDeleted
			if listed {
				reason = ReasonUpstreamDeactivated
			}
			if lowOnTime(ctx) {
				r.complete = false
				return r
			}
			switch err := s.deactivateForUpstream(ctx, u, reason); {
			case err == nil:
				r.deactivated++
			case errors.Is(err, ErrNotFound):
				// Deleted here meanwhile, sessions with it: nothing is left to end.
			default:
				r.failures++
				s.logger.WarnContext(ctx, "upstream re-check could not deactivate a user",
					"upstream", src, "user_id", u.ID, "reason", reason, "err", err)
			}
		}
		if len(page) < recheckPage {
			return r
		}
		after = page[len(page)-1].ID
	}
}

// deactivateForUpstream deactivates u and ends all their sessions, as an
// admin's deactivation does, and records why. The last active admin stays
// active and logged in: CodeConflict, with nothing touched.
func (s *core) deactivateForUpstream(ctx context.Context, u User, reason string) error {
	if u.IsAdmin {
		n, err := s.users.CountActiveAdmins(ctx)
		if err != nil {
			return err
		}
		if n <= 1 {
			return Errorf(CodeConflict, "The last active admin stays active.")
		}
	}
	inactive := false
	revoked, err := s.withSessionsEnded(ctx, u.ID, "", func() error {
		_, err := s.users.UpdateUser(ctx, u.ID, UserPatch{IsActive: &inactive, UpdatedAt: s.now()})
		return err
	})
	if err != nil {
		return err
	}
	s.record(ctx, Event{Type: EventUserSynchronised, TargetID: &u.ID, Username: u.Username, Details: map[string]any{
		"upstream": u.Source, "changed": []string{"is_active"}, "is_admin": u.IsAdmin, "is_active": false,
		"sessions_revoked": revoked, "reason": reason, "by": "cleanup",
	}})
	return nil
}

// lowOnTime reports whether less than a second is left before ctx's
// deadline: too little to start another batch of cleanup work.
func lowOnTime(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < time.Second
}
