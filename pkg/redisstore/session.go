package redisstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"authfn/pkg/auth"
)

// historyLength is how many rotated refresh hashes a session remembers. A
// token older than that is no longer recognised as reuse; it is simply
// unknown (ErrNotFound), which still refuses it.
const historyLength = 64

// sessionFields is the number of values a script returns per session: uid,
// username, created, seen, idle expiry, absolute expiry, ip, user agent,
// admin flag.
const sessionFields = 9

// CreateSession stores s with the hash of its first refresh token.
// s.CreatedAt is the "now" of the operation. A zero AbsoluteExpiresAt means
// the same as ExpiresAt; an ExpiresAt after AbsoluteExpiresAt is capped to
// it. Times are kept to the microsecond. Returns CodeInvalidRequest for a
// session without an id, a creation time, a future end or a refresh hash,
// and CodeUnavailable when Redis is down.
func (s *Store) CreateSession(ctx context.Context, sess auth.Session, refreshHash string) error {
	created := micros(sess.CreatedAt)
	absolute := sess.AbsoluteExpiresAt
	if absolute.IsZero() {
		absolute = sess.ExpiresAt
	}
	idle := min(micros(sess.ExpiresAt), micros(absolute))
	seen := created
	if !sess.LastSeenAt.IsZero() {
		seen = micros(sess.LastSeenAt)
	}
	switch {
	case sess.ID == "":
		return auth.Errorf(auth.CodeInvalidRequest, "A session needs an id.")
	case sess.CreatedAt.IsZero() || created < 0 || created > 9999999999999999:
		return auth.Errorf(auth.CodeInvalidRequest, "A session needs a creation time.")
	case idle <= created:
		return auth.Errorf(auth.CodeInvalidRequest, "A session must end after it starts.")
	case refreshHash == "":
		return auth.Errorf(auth.CodeInvalidRequest, "A session needs a refresh token hash.")
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()

	// The session lives in the user's slot and its global index entries in
	// two other slots; in a Cluster no single command or transaction spans
	// them, so the two writes cannot be atomic. The global entries go first:
	// if the session hash never follows, all that is left is an index entry
	// without a session, which listing skips and PruneSessions removes. The
	// other order could leave a session that exists but that no admin sees.
	// The user-slot script writes the hash and the user's index together, so
	// a session is never missing from per-user revocation.
	uid, sid := sess.UserID, sess.ID
	member := indexMember(created, uid, sid)
	b, ub := s.sessionBucket(sid), s.userBucket(uid)
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, s.createdKey(b), redis.Z{Score: 0, Member: member})
		p.ZAdd(ctx, s.expiryKey(b), redis.Z{Score: float64(idle), Member: member})
		p.ZAddGT(ctx, s.usersKey(ub), redis.Z{Score: float64(idle), Member: strconv.FormatInt(uid, 10)})
		return nil
	})
	if err != nil {
		return s.fail("create session: index", err)
	}
	v, err := createSessionScript.Run(ctx, s.c,
		s.sessionKeys(uid, sid),
		created, sid, s.userBase(uid),
		uid, sess.Username, created, seen, idle, micros(absolute), sess.IP, sess.UserAgent, refreshHash, MaxSessionsPerUser, adminFlag(sess.Admin),
		strings.Join(sess.AMR, " "),
	).Slice()
	if err != nil {
		return s.fail("create session", err)
	}
	if len(v) == 3 {
		// A session with this id exists. The same session again is a retry
		// of a call whose answer was lost: done already. Anything else is an
		// id collision, with random ids a bug, and never an overwrite; the
		// index entry just written must not stay to list the other session
		// twice.
		if str(v[1]) == strconv.FormatInt(created, 10) {
			if str(v[2]) == refreshHash {
				return nil
			}
		} else {
			_, _ = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.ZRem(ctx, s.createdKey(b), member)
				p.ZRem(ctx, s.expiryKey(b), member)
				return nil
			})
		}
		return errors.New("redisstore: create session: a different session with this id exists")
	}
	return nil
}

// TouchSession returns the session and sets its LastSeenAt to now, in one
// round trip (one EVALSHA). Returns ErrNotFound (CodeNotFound) if the session
// does not exist or its idle or absolute expiry is not after now, and
// CodeUnavailable when Redis is down.
func (s *Store) TouchSession(ctx context.Context, userID int64, sessionID string, now time.Time) (auth.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	v, err := touchSessionScript.Run(ctx, s.c,
		s.sessionKeys(userID, sessionID),
		micros(now), sessionID,
	).Slice()
	if errors.Is(err, redis.Nil) {
		return auth.Session{}, auth.ErrNotFound
	}
	if err != nil {
		return auth.Session{}, s.fail("touch session", err)
	}
	sess, err := sessionFrom(sessionID, v)
	if err != nil {
		return auth.Session{}, fmt.Errorf("redisstore: touch session: %w", err)
	}
	return sess, nil
}

// RotateRefresh atomically swaps the refresh token of a session and renews
// its idle expiry to r.Now+r.IdleTTL, never past the absolute expiry. The
// session it returns carries the AMR it was created with.
// Returns ErrNotFound for an unknown or dead session or an unknown token,
// ErrRefreshConflict for a token rotated within r.Grace (the session lives
// on), ErrTokenReused for a token rotated earlier (the session, its newest
// token included, is deleted first), CodeInvalidRequest for an empty hash or
// a non-positive IdleTTL, and CodeUnavailable when Redis is down.
func (s *Store) RotateRefresh(ctx context.Context, r auth.Rotation) (auth.Session, error) {
	if r.PresentedHash == "" || r.NewHash == "" {
		return auth.Session{}, auth.Errorf(auth.CodeInvalidRequest, "A refresh needs the presented and the new token hash.")
	}
	if r.IdleTTL < time.Microsecond {
		return auth.Session{}, auth.Errorf(auth.CodeInvalidRequest, "A refresh needs a positive idle lifetime.")
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	uid, sid := r.UserID, r.SessionID
	v, err := rotateRefreshScript.Run(ctx, s.c,
		s.sessionKeys(uid, sid),
		micros(r.Now), sid, r.PresentedHash, r.NewHash,
		r.Grace.Microseconds(), r.IdleTTL.Microseconds(), historyLength,
	).Slice()
	if err != nil {
		return auth.Session{}, s.fail("rotate refresh", err)
	}
	if len(v) == 0 {
		return auth.Session{}, errors.New("redisstore: rotate refresh: empty reply")
	}
	switch str(v[0]) {
	case "ok":
		if len(v) != 2+sessionFields {
			return auth.Session{}, errors.New("redisstore: rotate refresh: malformed reply")
		}
		sess, err := sessionFrom(sid, v[1:1+sessionFields])
		if err != nil {
			return auth.Session{}, fmt.Errorf("redisstore: rotate refresh: %w", err)
		}
		// Only a refresh needs the methods (to sign the new token with
		// them); the other reads leave them out and stay as they were. A
		// session from before they were kept has none.
		if amr := str(v[1+sessionFields]); amr != "" {
			sess.AMR = strings.Fields(amr)
		}
		// The global index is in other slots. Keeping its expiry current is
		// best effort: the rotation has happened and its new token must
		// reach the client. ZADD XX never re-adds an entry that a concurrent
		// revocation or pruning removed.
		member := indexMember(micros(sess.CreatedAt), uid, sid)
		_, _ = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAddXX(ctx, s.expiryKey(s.sessionBucket(sid)), redis.Z{Score: float64(micros(sess.ExpiresAt)), Member: member})
			p.ZAddGT(ctx, s.usersKey(s.userBucket(uid)), redis.Z{Score: float64(micros(sess.ExpiresAt)), Member: strconv.FormatInt(uid, 10)})
			return nil
		})
		return sess, nil
	case "conflict":
		return auth.Session{}, auth.ErrRefreshConflict
	case "reused":
		if len(v) != 3 {
			return auth.Session{}, errors.New("redisstore: rotate refresh: malformed reply")
		}
		created, err := integer(v[1])
		if err != nil {
			return auth.Session{}, fmt.Errorf("redisstore: rotate refresh: %w", err)
		}
		// Best effort as above: the session is already gone where it counts.
		_ = s.dropIndexEntries(ctx, uid, []deleted{{sid: sid, created: created}}, str(v[2]))
		return auth.Session{}, auth.ErrTokenReused
	case "unknown":
		return auth.Session{}, auth.ErrNotFound
	default:
		return auth.Session{}, fmt.Errorf("redisstore: rotate refresh: unexpected reply %q", str(v[0]))
	}
}

// UserSessions lists one user's live sessions, oldest first, and deletes the
// dead ones it finds. It returns an empty, non-nil slice when there are none.
// Returns CodeUnavailable when Redis is down.
func (s *Store) UserSessions(ctx context.Context, userID int64, now time.Time) ([]auth.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	v, err := userSessionsScript.Run(ctx, s.c, []string{s.userIndexKey(userID)}, micros(now), s.userBase(userID)).Slice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, s.fail("user sessions", err)
	}
	if len(v)%(sessionFields+1) != 0 {
		return nil, errors.New("redisstore: user sessions: malformed reply")
	}
	out := make([]auth.Session, 0, len(v)/(sessionFields+1))
	for i := 0; i < len(v); i += sessionFields + 1 {
		sess, err := sessionFrom(str(v[i]), v[i+1:i+1+sessionFields])
		if err != nil {
			return nil, fmt.Errorf("redisstore: user sessions: %w", err)
		}
		out = append(out, sess)
	}
	slices.SortFunc(out, func(a, b auth.Session) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// RevokeSession deletes one session and reports whether it existed (its
// hash was there, whatever its expiry: the interface gives no now). Its
// tokens stop working when the user-slot script has run; the global index
// is updated after, best effort. Returns CodeUnavailable when Redis is
// down.
func (s *Store) RevokeSession(ctx context.Context, userID int64, sessionID string) (bool, error) {
	n, err := s.revoke(ctx, userID, "one", sessionID)
	return n > 0, err
}

// RevokeUserSessions deletes all of a user's sessions except keep (if not
// empty), in one script on the user's slot, and says how many it deleted.
// The global index is updated after, best effort, as for RevokeSession.
// Returns CodeUnavailable when Redis is down.
func (s *Store) RevokeUserSessions(ctx context.Context, userID int64, keep string) (int, error) {
	return s.revoke(ctx, userID, "all", keep)
}

// deleted is a session that a script removed from its user's slot.
type deleted struct {
	sid     string
	created int64
}

func (s *Store) revoke(ctx context.Context, uid int64, mode, sid string) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	// The user slot first: once the script has run, no token of these
	// sessions is accepted, whatever happens to the global index after.
	v, err := revokeScript.Run(ctx, s.c, []string{s.userIndexKey(uid)}, s.userBase(uid), mode, sid).Slice()
	if err != nil {
		return 0, s.fail("revoke sessions", err)
	}
	if len(v) < 2 || len(v)%2 != 0 {
		return 0, errors.New("redisstore: revoke sessions: malformed reply")
	}
	n, err := integer(v[0])
	if err != nil {
		return 0, fmt.Errorf("redisstore: revoke sessions: %w", err)
	}
	gone := make([]deleted, 0, len(v)/2-1)
	for i := 2; i < len(v); i += 2 {
		c, err := integer(v[i+1])
		if err != nil {
			return 0, fmt.Errorf("redisstore: revoke sessions: %w", err)
		}
		gone = append(gone, deleted{sid: str(v[i]), created: c})
	}
	if len(gone) > 0 {
		// Best effort, like the index update of a rotation: the sessions
		// are gone where it counts, and an error now would tell the caller
		// that a revocation failed which did happen. Entries left behind
		// are orphans that listing skips and PruneSessions removes.
		_ = s.dropIndexEntries(ctx, uid, gone, str(v[1]))
	}
	return int(n), nil
}

// dropIndexEntries removes deleted sessions from the global index (in one
// pipeline, at most 500 members per command) and sets
// the user's entry in {gu} to the latest expiry among the sessions that
// remain (maxScore, "" when none remain). The update runs after the
// revocation's script, so updates of two revocations of one user can
// arrive in either order: ZADD XX only changes a user still listed, so one
// that saw another session live cannot put the user back after that
// session's revocation removed them (the user would count as active, and
// keep a key, until that session's idle end). The score may still be
// lowered, so a login racing a revocation of the same user may leave the
// user's score too low, or the user unlisted, until the user's next login
// or refresh: active_users may briefly undercount, never overcount.
func (s *Store) dropIndexEntries(ctx context.Context, uid int64, gone []deleted, maxScore string) error {
	byBucket := map[int][]any{}
	for _, d := range gone {
		b := s.sessionBucket(d.sid)
		byBucket[b] = append(byBucket[b], indexMember(d.created, uid, d.sid))
	}
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for b, ms := range byBucket {
			for chunk := range slices.Chunk(ms, 500) {
				p.ZRem(ctx, s.createdKey(b), chunk...)
				p.ZRem(ctx, s.expiryKey(b), chunk...)
			}
		}
		users, member := s.usersKey(s.userBucket(uid)), strconv.FormatInt(uid, 10)
		if maxScore == "" {
			p.ZRem(ctx, users, member)
		} else if score, err := strconv.ParseFloat(maxScore, 64); err == nil {
			p.ZAddXX(ctx, users, redis.Z{Score: score, Member: member})
		}
		return nil
	})
	return s.fail("revoke sessions: index", err)
}

// sessionFrom builds a Session from a script's fields: uid, username,
// created, seen, idle expiry, absolute expiry, ip, user agent, admin flag.
// A session written before the flag existed has none and reads as not
// admin: a verifier then denies admin rights until the next login.
func sessionFrom(sid string, f []any) (auth.Session, error) {
	if len(f) != sessionFields {
		return auth.Session{}, fmt.Errorf("session %d fields, want %d", len(f), sessionFields)
	}
	var n [6]int64
	for i := range 6 {
		if i == 1 {
			continue
		}
		v, err := integer(f[i])
		if err != nil {
			return auth.Session{}, fmt.Errorf("session field %d: %w", i, err)
		}
		n[i] = v
	}
	return auth.Session{
		ID:                sid,
		UserID:            n[0],
		Username:          str(f[1]),
		CreatedAt:         fromMicros(n[2]),
		LastSeenAt:        fromMicros(n[3]),
		ExpiresAt:         fromMicros(n[4]),
		AbsoluteExpiresAt: fromMicros(n[5]),
		IP:                str(f[6]),
		UserAgent:         str(f[7]),
		Admin:             str(f[8]) == "1",
	}, nil
}
