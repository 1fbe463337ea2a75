package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts. Each runs on the keys of one hash tag, so it is atomic
// and legal in a Cluster. Scripts that reach keys they only learn while
// running (a user's session hashes) build them from a base in ARGV that
// carries the same hash tag as KEYS[1].
//
// Lua numbers are doubles: microsecond times (about 2^51 today) are exact,
// and redis.call formats integral numbers without an exponent. Lua's own
// number-to-string conversion ("a" .. n, tostring) is not exact, so the
// scripts never concatenate a computed number: string times come from ARGV.
//
// A session is dead when its idle expiry ("ie", also its score in the user's
// ":ss") or its absolute expiry ("ae") is not after the caller's now. Every
// script that reads a session checks this and deletes what it finds dead,
// because Redis TTLs run on the server's clock, not the caller's.

// createSessionLua writes the user-slot half of CreateSession.
//
// KEYS: session hash, user index, history.
// ARGV: now (µs), sid, user base, then uid, username, created, seen, idle
// expiry, absolute expiry, ip, user agent, refresh hash, the most sessions
// a user may hold, admin flag ("1" or "0"), authentication methods ("pwd"
// or "pwd otp").
// Returns {1}, or {0, created, refresh hash} of a session that exists with
// this id (never overwritten).
const createSessionLua = `
local now = tonumber(ARGV[1])
local old = redis.call('HMGET', KEYS[1], 'c', 'rh')
if old[1] then return {0, old[1], old[2] or ''} end
-- Drop a few dead sessions of this user, so that ":ss" stays small for
-- users who log in often and never list their sessions.
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 16)
for _, sid in ipairs(dead) do
  redis.call('DEL', ARGV[3] .. 's:' .. sid, ARGV[3] .. 'r:' .. sid)
end
if #dead > 0 then redis.call('ZREM', KEYS[2], unpack(dead)) end
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[1], 'uid', ARGV[4], 'un', ARGV[5], 'c', ARGV[6], 'seen', ARGV[7],
  'ie', ARGV[8], 'ae', ARGV[9], 'ip', ARGV[10], 'ua', ARGV[11], 'rh', ARGV[12], 'adm', ARGV[14], 'amr', ARGV[15])
redis.call('PEXPIRE', KEYS[1], math.ceil((tonumber(ARGV[8]) - now) / 1000))
redis.call('ZADD', KEYS[2], ARGV[8], ARGV[2])
-- A user holds at most ARGV[13] sessions: past that, the ones closest to
-- their idle end go, so no script that walks a user's sessions (listing,
-- revoking) can grow without bound. Their index entries become orphans
-- that listing skips and pruning removes.
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[13])
if over > 0 then
  local old = redis.call('ZRANGE', KEYS[2], 0, over - 1)
  for _, sid in ipairs(old) do
    redis.call('DEL', ARGV[3] .. 's:' .. sid, ARGV[3] .. 'r:' .. sid)
  end
  redis.call('ZREM', KEYS[2], unpack(old))
end
local keep = math.ceil((tonumber(ARGV[9]) - now) / 1000)
if redis.call('PTTL', KEYS[2]) < keep then redis.call('PEXPIRE', KEYS[2], keep) end
return {1}
`

// touchSessionLua reads a session and records that it was seen.
//
// KEYS: session hash, user index, history. ARGV: now (µs), sid.
// Returns uid, username, created, seen, idle expiry, absolute expiry, ip,
// user agent, admin flag; or nil if the session is missing or dead.
const touchSessionLua = `
local f = redis.call('HMGET', KEYS[1], 'uid', 'un', 'c', 'seen', 'ie', 'ae', 'ip', 'ua', 'adm')
if not f[5] then return false end
local now = tonumber(ARGV[1])
if tonumber(f[5]) <= now or tonumber(f[6]) <= now then
  redis.call('DEL', KEYS[1], KEYS[3])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return false
end
-- Only forward: instances' clocks differ a little.
if tonumber(f[4]) < now then
  redis.call('HSET', KEYS[1], 'seen', ARGV[1])
  f[4] = ARGV[1]
end
return f
`

// rotateRefreshLua swaps a session's refresh hash, or says why not.
//
// KEYS: session hash, user index, history.
// ARGV: now (µs), sid, presented hash, new hash, grace (µs), idle TTL (µs),
// history length.
// Returns {"ok", uid, username, created, seen, idle expiry, absolute expiry,
// ip, user agent, admin flag, authentication methods}, {"conflict"}, {"reused", created, max remaining score or
// ""}, or {"unknown"}.
const rotateRefreshLua = `
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'uid', 'un', 'c', 'seen', 'ie', 'ae', 'ip', 'ua', 'rh', 'adm', 'amr')
if not f[5] then return {'unknown'} end
local ae = tonumber(f[6])
if tonumber(f[5]) <= now or ae <= now then
  redis.call('DEL', KEYS[1], KEYS[3])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return {'unknown'}
end
if f[9] == ARGV[3] then
  redis.call('ZADD', KEYS[3], ARGV[1], ARGV[3])
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -1 - tonumber(ARGV[7]))
  -- A refresh renews the idle expiry but never passes the absolute one.
  local ie = now + tonumber(ARGV[6])
  if ie > ae then ie = ae end
  redis.call('HSET', KEYS[1], 'rh', ARGV[4], 'ie', ie, 'seen', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], math.ceil((ie - now) / 1000))
  redis.call('PEXPIRE', KEYS[3], math.ceil((ae - now) / 1000))
  redis.call('ZADD', KEYS[2], ie, ARGV[2])
  return {'ok', f[1], f[2], f[3], ARGV[1], ie, f[6], f[7], f[8], f[10], f[11]}
end
local at = redis.call('ZSCORE', KEYS[3], ARGV[3])
if not at then return {'unknown'} end
if now - tonumber(at) <= tonumber(ARGV[5]) then return {'conflict'} end
-- A token rotated before the grace period came back: someone holds a copy.
-- End the session, newest tokens included.
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[2])
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
return {'reused', f[3], top[2] or ''}
`

// userSessionsLua lists a user's live sessions and deletes the dead ones.
//
// KEYS: user index. ARGV: now (µs), user base.
// Returns sid, uid, username, created, seen, idle expiry, absolute expiry,
// ip, user agent, admin flag for each live session, flat.
const userSessionsLua = `
local now = tonumber(ARGV[1])
local sids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out, dead = {}, {}
for _, sid in ipairs(sids) do
  local k = ARGV[2] .. 's:' .. sid
  local f = redis.call('HMGET', k, 'uid', 'un', 'c', 'seen', 'ie', 'ae', 'ip', 'ua', 'adm')
  if f[5] and tonumber(f[5]) > now and tonumber(f[6]) > now then
    out[#out + 1] = sid
    for i = 1, 9 do out[#out + 1] = f[i] end
  else
    redis.call('DEL', k, ARGV[2] .. 'r:' .. sid)
    dead[#dead + 1] = sid
  end
end
for i = 1, #dead, 500 do
  redis.call('ZREM', KEYS[1], unpack(dead, i, math.min(i + 499, #dead)))
end
return out
`

// revokeLua deletes one session, or all of a user's sessions but one.
//
// KEYS: user index. ARGV: user base, "one" or "all", the sid to delete
// ("one") or to keep ("all", may be empty).
// Returns {deleted count, max remaining score or "", then sid, created for
// each deleted session} so that the caller can remove the global entries.
const revokeLua = `
local base, one = ARGV[1], ARGV[2] == 'one'
local sids
if one then sids = {ARGV[3]} else sids = redis.call('ZRANGE', KEYS[1], 0, -1) end
local out, gone, n = {0, ''}, {}, 0
for _, sid in ipairs(sids) do
  if one or sid ~= ARGV[3] then
    local k = base .. 's:' .. sid
    local c = redis.call('HGET', k, 'c')
    if c then
      n = n + 1
      out[#out + 1] = sid
      out[#out + 1] = c
    end
    redis.call('DEL', k, base .. 'r:' .. sid)
    gone[#gone + 1] = sid
  end
end
for i = 1, #gone, 500 do
  redis.call('ZREM', KEYS[1], unpack(gone, i, math.min(i + 499, #gone)))
end
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
out[1] = n
out[2] = top[2] or ''
return out
`

// listBucketLua walks one bucket of the global index in creation order.
//
// KEYS: {gs:NN}:c, {gs:NN}:e. ARGV: lex start ("-" or "(<member>"), now (µs),
// live members wanted, raw members to scan at most, first batch size (it
// doubles while dead members fill the batches).
// Returns {status, last member examined, {live members}}: status is "end"
// (nothing after last), "full" (enough live members; last is the last of
// them) or "bound" (the scan bound was reached at last).
const listBucketLua = `
local now = tonumber(ARGV[2])
local want, bound, batch = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local start, live, scanned, last = ARGV[1], {}, 0, ''
while true do
  local n = math.min(batch, bound - scanned)
  local ms = redis.call('ZRANGEBYLEX', KEYS[1], start, '+', 'LIMIT', 0, n)
  if #ms == 0 then return {'end', last, live} end
  local sc = redis.call('ZMSCORE', KEYS[2], unpack(ms))
  for i, m in ipairs(ms) do
    scanned = scanned + 1
    last = m
    if sc[i] and tonumber(sc[i]) > now then
      live[#live + 1] = m
      if #live >= want then return {'full', m, live} end
    end
  end
  if #ms < n then return {'end', last, live} end
  if scanned >= bound then return {'bound', last, live} end
  start = '(' .. last
  batch = batch * 2
end
`

// pruneScoreLua removes up to ARGV[2] members scored at or before ARGV[1]
// from every key in KEYS (all of one slot), using the first key's scores.
// Returns how many it removed.
const pruneScoreLua = `
local ms = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #ms > 0 then
  for _, k in ipairs(KEYS) do redis.call('ZREM', k, unpack(ms)) end
end
return #ms
`

// pruneOrphansLua removes orphaned members from a bucket and saves how far
// the orphan walk got.
//
// KEYS: {gs:NN}:c, {gs:NN}:e, {gs:NN}:pc. ARGV: the new cursor ("" to start
// over next time), then the members to remove.
const pruneOrphansLua = `
if #ARGV > 1 then
  redis.call('ZREM', KEYS[1], unpack(ARGV, 2))
  redis.call('ZREM', KEYS[2], unpack(ARGV, 2))
end
if ARGV[1] == '' then
  redis.call('DEL', KEYS[3])
else
  redis.call('SET', KEYS[3], ARGV[1], 'EX', 2592000)
end
return #ARGV - 1
`

// attemptLua counts one login attempt under each key unless one of them
// is locked: the checks and the counts are one step, so attempts sent at
// the same time cannot all pass a check made before any of them was
// counted, and a key locked later in the list leaves the earlier ones
// uncounted.
//
// KEYS: the throttle hashes. ARGV: now, then for each key its window, max,
// base lock and max lock (all µs except max). Returns {wait}, the rest of
// the first running lock, with nothing counted; or {0, started...}, the
// lock this attempt started under each key (0 if none).
const attemptLua = `
local now = tonumber(ARGV[1])
local seen = {}
for i, key in ipairs(KEYS) do
  local f = redis.call('HMGET', key, 'n', 'last', 'until')
  local untl = tonumber(f[3]) or 0
  if untl > now then return {untl - now} end
  seen[i] = f
end
local out = {0}
for i, key in ipairs(KEYS) do
  local a = 2 + (i - 1) * 4
  local window, max = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local base, maxlock = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local f = seen[i]
  local n, last, untl = tonumber(f[1]) or 0, tonumber(f[2]), tonumber(f[3]) or 0
  if last and now - last > window then n = 0 end
  n = n + 1
  local lock = 0
  if n >= max then
    local e = n - max
    if e > 60 then lock = maxlock else lock = math.min(base * 2 ^ e, maxlock) end
    lock = math.floor(lock)
    untl = now + lock
  end
  redis.call('HSET', key, 'n', n, 'last', ARGV[1], 'until', untl)
  local ttl = window
  if untl - now > ttl then ttl = untl - now end
  redis.call('PEXPIRE', key, math.max(1, math.ceil(ttl / 1000)))
  out[i + 1] = lock
end
return out
`

// releaseLua gives back one attempt under each key, and the lock it
// started: a lock is lifted only if it is still the one that attempt set.
// ARGV[i] says what to do with KEYS[i]: 'forget' deletes the count and
// the lock; otherwise it is the end of the lock the attempt started, in
// µs, or empty when it started none.
const releaseLua = `
for i, key in ipairs(KEYS) do
  if ARGV[i] == 'forget' then
    redis.call('DEL', key)
  else
    local f = redis.call('HMGET', key, 'n', 'until')
    if f[1] then
      local n = tonumber(f[1]) - 1
      if n < 0 then n = 0 end
      local untl = tonumber(f[2]) or 0
      if ARGV[i] ~= '' and untl == tonumber(ARGV[i]) then untl = 0 end
      redis.call('HSET', key, 'n', n, 'until', untl)
    end
  end
end
return 1
`

// unlockLua deletes a lock only if it still holds our token, so a holder
// whose lock expired cannot release the next holder's.
const unlockLua = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

// Compiled scripts: go-redis sends EVALSHA and falls back to EVAL once when
// the server has not seen a script (after a restart or a failover).
var (
	createSessionScript = redis.NewScript(createSessionLua)
	touchSessionScript  = redis.NewScript(touchSessionLua)
	rotateRefreshScript = redis.NewScript(rotateRefreshLua)
	userSessionsScript  = redis.NewScript(userSessionsLua)
	revokeScript        = redis.NewScript(revokeLua)
	listBucketScript    = redis.NewScript(listBucketLua)
	pruneScoreScript    = redis.NewScript(pruneScoreLua)
	pruneOrphansScript  = redis.NewScript(pruneOrphansLua)
	attemptScript       = redis.NewScript(attemptLua)
	releaseScript       = redis.NewScript(releaseLua)
	unlockScript        = redis.NewScript(unlockLua)
)
