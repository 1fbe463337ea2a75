package embedredis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

const (
	// formatName and formatVersion head every snapshot. A file with another
	// name or version is not guessed at: it is moved aside, so that a
	// format change can never restore wrong data.
	formatName    = "authfn-embedredis-snapshot"
	formatVersion = 1
	// databases is how many databases are kept: Redis's default
	// "databases 16". The service uses database 0.
	databases = 16
	// tempPattern names the files a snapshot is written to before the
	// rename; one left by a crash is removed at the next start.
	tempPattern = "." + SnapshotName + "-*.tmp"
)

// The snapshot file, as JSON. Keys and values are []byte (base64 in JSON)
// because Redis strings are binary and JSON strings are not. Expiries are
// absolute Unix milliseconds, so that the time the runner spends stopped
// counts against them; zero means none.
type (
	snapshot struct {
		Format  string       `json:"format"`
		Version int          `json:"version"`
		SavedAt time.Time    `json:"saved_at"`
		DBs     []dbSnapshot `json:"dbs"`
	}
	dbSnapshot struct {
		DB   int           `json:"db"`
		Keys []keySnapshot `json:"keys"`
	}
	keySnapshot struct {
		Key       []byte      `json:"key"`
		Type      string      `json:"type"` // as TYPE answers: string, hash, list, set, zset
		ExpiresAt int64       `json:"expires_at_ms,omitempty"`
		String    []byte      `json:"string,omitempty"`
		Hash      []hashField `json:"hash,omitempty"`
		List      [][]byte    `json:"list,omitempty"`
		Set       [][]byte    `json:"set,omitempty"`
		ZSet      []zMember   `json:"zset,omitempty"`
	}
	hashField struct {
		Name      []byte `json:"name"`
		Value     []byte `json:"value"`
		ExpiresAt int64  `json:"expires_at_ms,omitempty"` // HEXPIRE
	}
	zMember struct {
		Member []byte `json:"member"`
		// Score is text as ZRANGE WITHSCORES gives it ("0.1", "inf"):
		// exact, and JSON numbers have no infinities.
		Score string `json:"score"`
	}
)

// dumpLua returns the selected database whole: TIME, then per key its name,
// type, PTTL and contents (a hash as name, value, field PTTL triples; a
// sorted set as member, score pairs). A script runs with every other client
// waiting, so the result is one point in time: a session is never restored
// without the index entries and refresh history written with it.
const dumpLua = `
local t = redis.call('TIME')
local out = {t[1], t[2]}
for _, k in ipairs(redis.call('KEYS', '*')) do
  local ty = redis.call('TYPE', k).ok
  local v = {}
  if ty == 'string' then v = {redis.call('GET', k)}
  elseif ty == 'hash' then
    local fv = redis.call('HGETALL', k)
    for i = 1, #fv, 2 do
      v[#v + 1] = fv[i]
      v[#v + 1] = fv[i + 1]
      v[#v + 1] = redis.call('HPTTL', k, 'FIELDS', 1, fv[i])[1]
    end
  elseif ty == 'list' then v = redis.call('LRANGE', k, 0, -1)
  elseif ty == 'set' then v = redis.call('SMEMBERS', k)
  elseif ty == 'zset' then v = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
  end
  out[#out + 1] = {k, ty, redis.call('PTTL', k), v}
end
return out
`

// capture reads every database over c. skipped names the keys of types it
// cannot restore (streams, HyperLogLogs), which the service never writes.
func capture(ctx context.Context, c *redis.Client) (snapshot, []string, error) {
	conn := c.Conn()
	defer conn.Close()
	dumps := make([]*redis.Cmd, databases)
	_, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range databases {
			p.Select(ctx, i)
			dumps[i] = p.Eval(ctx, dumpLua, nil)
		}
		p.Select(ctx, 0)
		return nil
	})
	if err != nil {
		return snapshot{}, nil, fmt.Errorf("read the in-process redis: %w", err)
	}
	snap := snapshot{Format: formatName, Version: formatVersion, SavedAt: time.Now().UTC()}
	var skipped []string
	for i, d := range dumps {
		db, sk, err := parseDump(i, d.Val())
		if err != nil {
			return snapshot{}, nil, fmt.Errorf("database %d: %w", i, err)
		}
		skipped = append(skipped, sk...)
		if len(db.Keys) > 0 {
			snap.DBs = append(snap.DBs, db)
		}
	}
	return snap, skipped, nil
}

// parseDump turns one dumpLua reply into a dbSnapshot, PTTLs into absolute
// expiries on the server's own clock.
func parseDump(n int, reply any) (dbSnapshot, []string, error) {
	top, ok := reply.([]any)
	if !ok || len(top) < 2 {
		return dbSnapshot{}, nil, fmt.Errorf("dump reply %T", reply)
	}
	sec, err1 := strconv.ParseInt(fmt.Sprint(top[0]), 10, 64)
	usec, err2 := strconv.ParseInt(fmt.Sprint(top[1]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return dbSnapshot{}, nil, fmt.Errorf("dump time: %w", err)
	}
	nowMS := sec*1000 + usec/1000
	expiry := func(v any) (int64, error) {
		ms, ok := v.(int64)
		switch {
		case !ok:
			return 0, fmt.Errorf("ttl %T", v)
		case ms < 0: // -1: no expiry
			return 0, nil
		default:
			return nowMS + ms, nil
		}
	}
	db := dbSnapshot{DB: n}
	var skipped []string
	for _, e := range top[2:] {
		f, ok := e.([]any)
		if !ok || len(f) != 4 {
			return dbSnapshot{}, nil, fmt.Errorf("dump entry %v", e)
		}
		key, _ := f[0].(string)
		typ, _ := f[1].(string)
		vals, _ := f[3].([]any)
		at, err := expiry(f[2])
		if err != nil {
			return dbSnapshot{}, nil, fmt.Errorf("key %q: %w", key, err)
		}
		k := keySnapshot{Key: []byte(key), Type: typ, ExpiresAt: at}
		bs := func(vs []any) [][]byte {
			out := make([][]byte, len(vs))
			for i, v := range vs {
				s, _ := v.(string)
				out[i] = []byte(s)
			}
			return out
		}
		switch typ {
		case "string":
			if len(vals) != 1 {
				return dbSnapshot{}, nil, fmt.Errorf("string %q: %d values", key, len(vals))
			}
			k.String = bs(vals)[0]
		case "hash":
			if len(vals)%3 != 0 {
				return dbSnapshot{}, nil, fmt.Errorf("hash %q: %d values", key, len(vals))
			}
			for i := 0; i < len(vals); i += 3 {
				at, err := expiry(vals[i+2])
				if err != nil {
					return dbSnapshot{}, nil, fmt.Errorf("hash %q: %w", key, err)
				}
				nv := bs(vals[i : i+2])
				k.Hash = append(k.Hash, hashField{Name: nv[0], Value: nv[1], ExpiresAt: at})
			}
		case "list":
			k.List = bs(vals)
		case "set":
			k.Set = bs(vals)
		case "zset":
			if len(vals)%2 != 0 {
				return dbSnapshot{}, nil, fmt.Errorf("zset %q: %d values", key, len(vals))
			}
			for i := 0; i < len(vals); i += 2 {
				m, _ := vals[i].(string)
				sc, _ := vals[i+1].(string)
				k.ZSet = append(k.ZSet, zMember{Member: []byte(m), Score: sc})
			}
		default:
			skipped = append(skipped, fmt.Sprintf("db %d %q (%s)", n, key, typ))
			continue
		}
		db.Keys = append(db.Keys, k)
	}
	return db, skipped, nil
}

func encode(s snapshot) ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode the snapshot: %w", err)
	}
	return append(b, '\n'), nil
}

// decode parses and checks a snapshot completely, so that restoring it
// cannot fail half-way.
func decode(b []byte) (snapshot, error) {
	var head struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return snapshot{}, fmt.Errorf("not a snapshot: %w", err)
	}
	if head.Format != formatName || head.Version != formatVersion {
		return snapshot{}, fmt.Errorf("format %q version %d, this runner reads %q version %d", head.Format, head.Version, formatName, formatVersion)
	}
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return snapshot{}, fmt.Errorf("corrupt snapshot: %w", err)
	}
	seenDB := map[int]bool{}
	for _, db := range s.DBs {
		if db.DB < 0 || db.DB >= databases || seenDB[db.DB] {
			return snapshot{}, fmt.Errorf("corrupt snapshot: database %d out of range or repeated", db.DB)
		}
		seenDB[db.DB] = true
		seen := map[string]bool{}
		for _, k := range db.Keys {
			if seen[string(k.Key)] {
				return snapshot{}, fmt.Errorf("corrupt snapshot: db %d key %q repeated", db.DB, k.Key)
			}
			seen[string(k.Key)] = true
			if err := k.check(); err != nil {
				return snapshot{}, fmt.Errorf("corrupt snapshot: db %d key %q: %w", db.DB, k.Key, err)
			}
		}
	}
	return s, nil
}

// check holds a key to what capture writes: its type's contents only, and
// a collection never empty (Redis deletes an emptied one).
func (k keySnapshot) check() error {
	if k.ExpiresAt < 0 {
		return errors.New("negative expiry")
	}
	filled := 0
	for _, n := range []int{len(k.Hash), len(k.List), len(k.Set), len(k.ZSet)} {
		if n > 0 {
			filled++
		}
	}
	var want int
	switch k.Type {
	case "string":
		want = 0
	case "hash":
		want = len(k.Hash)
	case "list":
		want = len(k.List)
	case "set":
		want = len(k.Set)
	case "zset":
		want = len(k.ZSet)
		for _, m := range k.ZSet {
			if f, err := strconv.ParseFloat(m.Score, 64); err != nil || math.IsNaN(f) {
				return fmt.Errorf("score %q", m.Score)
			}
		}
	default:
		return fmt.Errorf("type %q", k.Type)
	}
	switch {
	case k.Type == "string" && filled != 0, k.Type != "string" && k.String != nil:
		return fmt.Errorf("%s with another type's contents", k.Type)
	case k.Type != "string" && (want == 0 || filled != 1):
		return fmt.Errorf("empty or mixed %s", k.Type)
	}
	return nil
}

// apply writes a checked snapshot into mr, which no client uses yet,
// skipping what expired by now. It returns how many keys it restored and
// how many had expired.
func apply(mr *miniredis.Miniredis, s snapshot, now time.Time) (restored, expired int) {
	nowMS := now.UnixMilli()
	left := func(at int64) (time.Duration, bool) {
		if at == 0 {
			return 0, true
		}
		return time.Duration(at-nowMS) * time.Millisecond, at > nowMS
	}
	for _, d := range s.DBs {
		db := mr.DB(d.DB)
		for _, k := range d.Keys {
			ttl, live := left(k.ExpiresAt)
			if !live {
				expired++
				continue
			}
			key := string(k.Key)
			switch k.Type {
			case "string":
				_ = db.Set(key, string(k.String))
			case "hash":
				var fv []string
				var timed []hashField
				for _, f := range k.Hash {
					if _, ok := left(f.ExpiresAt); !ok {
						continue
					}
					fv = append(fv, string(f.Name), string(f.Value))
					if f.ExpiresAt != 0 {
						timed = append(timed, f)
					}
				}
				if len(fv) == 0 {
					expired++
					continue
				}
				db.HSet(key, fv...)
				for _, f := range timed {
					d, _ := left(f.ExpiresAt)
					db.HExpire(key, string(f.Name), d)
				}
			case "list":
				_, _ = db.Push(key, strs(k.List)...)
			case "set":
				_, _ = db.SetAdd(key, strs(k.Set)...)
			case "zset":
				for _, m := range k.ZSet {
					f, _ := strconv.ParseFloat(m.Score, 64)
					_, _ = db.ZAdd(key, f, string(m.Member))
				}
			}
			if k.ExpiresAt != 0 {
				db.SetTTL(key, ttl)
			}
			restored++
		}
	}
	return restored, expired
}

func strs(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// writeAtomic replaces path with b so that a crash at any moment leaves
// either the old snapshot or the new one, never a torn file: a temporary
// file in the same directory (mode 0600: the data holds refresh-token
// hashes), fsync, rename over path, fsync of the directory.
func writeAtomic(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return fmt.Errorf("write the snapshot: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			err = fmt.Errorf("write the snapshot: %w", err)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(b); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		// The rename is durable only once the directory is synced; a
		// failure here still leaves a complete file, old or new.
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// removeTemps deletes temporary files that a crash during a snapshot left.
func removeTemps(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if ok, _ := filepath.Match(tempPattern, e.Name()); ok && e.Type().IsRegular() {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
