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
// retention, in bounded batches within a time budget. A Redis lock keeps
// two runs from overlapping. It is what POST /cleanup and the scheduler
// run, with no actor. Returns CodeConflict when another run holds the lock,
// CodeUnavailable when too little time is left or a store is down.
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

	now := s.now()
	pr, err := s.sessions.PruneSessions(ctx, now)
	if err != nil {
		return CleanupResult{}, err
	}
	r := CleanupResult{
		ExpiredIndexEntries: pr.ExpiredIndexEntries, OrphanedIndexEntries: pr.OrphanedIndexEntries,
		ExpiredUserEntries: pr.ExpiredUserEntries, Complete: pr.Complete,
	}
	cutoff := now.Add(-s.cfg.AuditRetention)
	for {
		if dl, _ := ctx.Deadline(); time.Until(dl) < time.Second {
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
	s.record(context.WithoutCancel(ctx), Event{Type: EventCleanupRun, ActorID: actor, Details: map[string]any{
		"removed": r.Removed, "expired_index_entries": r.ExpiredIndexEntries, "orphaned_index_entries": r.OrphanedIndexEntries,
		"expired_user_entries": r.ExpiredUserEntries, "audit_events_deleted": r.AuditEventsDeleted, "complete": r.Complete,
		"duration_ms": r.DurationMS,
	}})
	return r, nil
}
