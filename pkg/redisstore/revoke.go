package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"authfn/pkg/auth"
)

// revokeByRefreshLua deletes a session if the presented refresh hash is
// its current one or one it rotated out (in its history).
//
// KEYS: session hash, user index, history. ARGV: sid, presented hash.
// Returns {0} when nothing matched, or {1, created, max remaining score or
// ""} so that the caller can remove the global index entries.
const revokeByRefreshLua = `
local f = redis.call('HMGET', KEYS[1], 'rh', 'c')
if not f[1] then return {0} end
if f[1] ~= ARGV[2] and not redis.call('ZSCORE', KEYS[3], ARGV[2]) then return {0} end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[1])
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
return {1, f[2], top[2] or ''}
`

var revokeByRefreshScript = redis.NewScript(revokeByRefreshLua)

// RevokeByRefresh deletes one session if presentedHash is the hash of its
// current refresh token or of one it rotated out (the last historyLength),
// in one script on the user's slot, and reports whether it did. Like
// RevokeSession it takes no now: a session past its expiry that Redis has
// not dropped yet is deleted too. The global index is updated after, best
// effort. Returns CodeInvalidRequest for an empty hash and CodeUnavailable
// when Redis is down.
func (s *Store) RevokeByRefresh(ctx context.Context, userID int64, sessionID, presentedHash string) (bool, error) {
	if presentedHash == "" {
		return false, auth.Errorf(auth.CodeInvalidRequest, "A revocation needs the presented token hash.")
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	v, err := revokeByRefreshScript.Run(ctx, s.c,
		s.sessionKeys(userID, sessionID),
		sessionID, presentedHash,
	).Slice()
	if err != nil {
		return false, s.fail("revoke by refresh", err)
	}
	if len(v) == 0 {
		return false, errors.New("redisstore: revoke by refresh: empty reply")
	}
	if n, err := integer(v[0]); err != nil || n == 0 {
		return false, err
	}
	if len(v) != 3 {
		return false, errors.New("redisstore: revoke by refresh: malformed reply")
	}
	created, err := integer(v[1])
	if err != nil {
		return false, fmt.Errorf("redisstore: revoke by refresh: %w", err)
	}
	// Best effort, as for RevokeSession: the session is gone where it counts.
	_ = s.dropIndexEntries(ctx, userID, []deleted{{sid: sessionID, created: created}}, str(v[2]))
	return true, nil
}
