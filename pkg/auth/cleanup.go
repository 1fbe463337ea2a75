package auth

import (
	"context"
	"time"
)

// CleanupResult counts what one cleanup run removed.
type CleanupResult struct {
	Removed              int64 `json:"removed"`
	DurationMS           int64 `json:"duration_ms"`
	ExpiredIndexEntries  int64 `json:"expired_index_entries"`
	OrphanedIndexEntries int64 `json:"orphaned_index_entries"`
	ExpiredUserEntries   int64 `json:"expired_user_entries"`
	AuditEventsDeleted   int64 `json:"audit_events_deleted"`
	// Complete is false when the time budget ran out first; the next run
	// carries on where this one stopped.
	Complete bool `json:"complete"`
	// The upstream re-check (upstream_recheck.go), all 0 without an
	// upstream directory: active users of its source compared with its
	// list, those deactivated here because the upstream deactivated or
	// deleted them, and failures (a listing that could not be used, which
	// changes nothing, or a user who could not be deactivated).
	UpstreamChecked     int64 `json:"upstream_checked"`
	UpstreamDeactivated int64 `json:"upstream_deactivated"`
	UpstreamFailures    int64 `json:"upstream_failures"`
}

// Cleanup budget: without a deadline in ctx a run takes at most
// DefaultCleanupBudget; with one, it stops cleanupMargin before it, so the
// answer gets out before a Lambda or API Gateway timeout.
const (
	// DefaultCleanupBudget also keeps an on-demand run (POST /cleanup)
	// well inside API Gateway's 29 s limit; what it does not finish, the
	// next run does.
	DefaultCleanupBudget = 20 * time.Second
	maxCleanupBudget     = 5 * time.Minute
	cleanupMargin        = 2 * time.Second
	auditBatch           = 5000
)

// Cleanup prunes session index entries that Redis TTLs cannot reach
// (expired and orphaned ones) and deletes audit events older than the
// retention, in bounded batches within a time budget. With an upstream
// directory (WithUpstreamDirectory) it first deactivates, and logs out,
// the users of its source that the upstream deactivated or deleted. A
// Redis lock keeps two runs from overlapping. It is what POST /cleanup and
// the scheduler run, with no actor. Returns CodeConflict when another run
// holds the lock, CodeUnavailable when too little time is left or a store
// is down; an upstream that cannot be asked is no error (it is counted).
func (s *Maintenance) Cleanup(ctx context.Context) (CleanupResult, error) {
	return s.cleanup(ctx, nil)
}

// cleanup is the cleanup job; actor is the admin who asked for it, or nil
// for the scheduler.
func (s *core) cleanup(ctx context.Context, actor *int64) (CleanupResult, error) {
	start := time.Now()
	budget := DefaultCleanupBudget
	if dl, ok := ctx.Deadline(); ok {
		budget = min(time.Until(dl)-cleanupMargin, maxCleanupBudget)
	}
	if budget < time.Second {
		return CleanupResult{}, Errorf(CodeUnavailable, "Not enough time left for a cleanup run.")
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	unlock, ok, err := s.locker.Lock(ctx, "cleanup", budget+cleanupMargin)
	if err != nil {
		return CleanupResult{}, err
	}
	if !ok {
		return CleanupResult{}, Errorf(CodeConflict, "A cleanup is already running.")
	}
	defer func() { _ = unlock(context.WithoutCancel(ctx)) }()

	// Taking access away comes before tidying up, so a long prune cannot
	// starve it; it stops itself at half the budget.
	up := s.recheckUpstream(ctx)
	now := s.now()
	pr, err := s.sessions.PruneSessions(ctx, now)
	if err != nil {
		return CleanupResult{}, err
	}
	r := CleanupResult{
		ExpiredIndexEntries: pr.ExpiredIndexEntries, OrphanedIndexEntries: pr.OrphanedIndexEntries,
		ExpiredUserEntries: pr.ExpiredUserEntries, Complete: pr.Complete && up.complete,
		UpstreamChecked: up.checked, UpstreamDeactivated: up.deactivated, UpstreamFailures: up.failures,
	}
	cutoff := now.Add(-s.cfg.AuditRetention)
	for {
		if lowOnTime(ctx) {
			r.Complete = false
			break
		}
		n, err := s.audit.DeleteEventsBefore(ctx, cutoff, auditBatch)
		if err != nil {
			return CleanupResult{}, err
		}
		r.AuditEventsDeleted += int64(n)
		if n < auditBatch {
			break
		}
	}
	r.Removed = r.ExpiredIndexEntries + r.OrphanedIndexEntries + r.ExpiredUserEntries + r.AuditEventsDeleted
	s.countSessions(ctx)
	r.DurationMS = time.Since(start).Milliseconds()
	details := map[string]any{
		"removed": r.Removed, "expired_index_entries": r.ExpiredIndexEntries, "orphaned_index_entries": r.OrphanedIndexEntries,
		"expired_user_entries": r.ExpiredUserEntries, "audit_events_deleted": r.AuditEventsDeleted, "complete": r.Complete,
		"duration_ms": r.DurationMS,
	}
	if s.directory != nil {
		details["upstream_checked"], details["upstream_deactivated"], details["upstream_failures"] = r.UpstreamChecked, r.UpstreamDeactivated, r.UpstreamFailures
	}
	s.record(context.WithoutCancel(ctx), Event{Type: EventCleanupRun, ActorID: actor, Details: details})
	return r, nil
}
