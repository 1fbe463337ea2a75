package redisstore

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// setAdminLua sets the admin flag of every session of one user that still
// exists; it never creates a hash for an index entry whose session is gone
// (a revoked or expired one stays gone). It reads before it writes so that
// the caller learns how many sessions actually changed.
//
// KEYS: user index. ARGV: user base, the flag ("1" or "0").
// Returns how many sessions had another flag (a missing flag counts as
// "0", as sessionFrom reads it).
const setAdminLua = `
local n = 0
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local k = ARGV[1] .. 's:' .. sid
  local f = redis.call('HMGET', k, 'ie', 'adm')
  if f[1] then
    if (f[2] or '0') ~= ARGV[2] then n = n + 1 end
    redis.call('HSET', k, 'adm', ARGV[2])
  end
end
return n
`

var setAdminScript = redis.NewScript(setAdminLua)

// SetUserAdmin sets the admin flag that every session of the user carries,
// in one script on the user's slot (one round trip), and says how many
// sessions it changed. Sessions that are gone are not recreated; a user
// without sessions is 0. The hash keeps its TTL (HSET does not touch it).
// MaxSessionsPerUser bounds the work. Returns CodeUnavailable when Redis is
// down.
func (s *Store) SetUserAdmin(ctx context.Context, userID int64, admin bool) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	n, err := setAdminScript.Run(ctx, s.c, []string{s.userIndexKey(userID)}, s.userBase(userID), adminFlag(admin)).Int()
	if err != nil {
		return 0, s.fail("set user admin", err)
	}
	return n, nil
}

// adminFlag is how a session hash spells its admin flag.
func adminFlag(admin bool) string {
	if admin {
		return "1"
	}
	return "0"
}
