// Package redisstore keeps sessions, refresh-token state, login throttling
// and named locks in Redis. It implements auth.SessionStore, auth.Throttle
// and auth.Locker over a redis.UniversalClient, so one server, Sentinel and
// Redis Cluster all work.
//
// Key layout. Every key starts with Options.Prefix and carries a hash tag, so
// no command or script touches more than one Cluster slot:
//
//	{u:<uid>}:s:<sid>   session hash: uid, un, c, seen, ie, ae, ip, ua, rh
//	{u:<uid>}:ss        ZSET of the user's session ids, scored by idle expiry
//	{u:<uid>}:r:<sid>   ZSET of the session's rotated refresh hashes, scored by rotation time
//	{u:<uid>}:mp        a pending MFA enrolment; {u:<uid>}:mt:<hash> an mfa_token (mfa.go)
//	{gs:NN}:c           ZSET, all scores 0, members "<created µs, 16 digits>:<uid>:<sid>"
//	{gs:NN}:e           the same members scored by idle expiry
//	{gs:NN}:pc          where the orphan walk of PruneSessions stopped
//	{gu:NN}             ZSET of uids scored by the latest idle expiry of their sessions
//	{t:<key>}           throttle hash: n (count), last (µs), until (µs)
//	{lock:<name>}       a lock's random token
//
// Times are kept in microseconds. Keys get relative TTLs, never absolute
// ones, because "now" comes from the caller and may be a fake clock; so
// every script also compares the stored expiries with the now it is given.
package redisstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"authfn/pkg/auth"
)

const (
	// DefaultTimeout bounds one call to Redis when Options.Timeout is zero:
	// long enough for a healthy server by far, short enough that a request
	// fails with 503 well before API Gateway's 29 s.
	DefaultTimeout = 2 * time.Second
	// MaxSessionsPerUser bounds one user's live sessions; a login past it
	// ends the session closest to its idle end. Comparable services cap
	// it too, and it keeps every per-user script's work bounded.
	MaxSessionsPerUser = 100
	// DefaultBuckets is the number of global index shards when
	// Options.Buckets is zero. More buckets spread the index over more
	// Cluster slots (and nodes); each costs ListSessions one small script
	// per page and SessionStats two ZCOUNTs.
	DefaultBuckets = 16
)

const (
	// NewClient's defaults: a refused connection fails the request after
	// one more try instead of after go-redis's five dials and three
	// retries (about two seconds), while one retry still hides a pooled
	// connection that a Redis restart or failover closed.
	dialerRetries = 1
	maxRetries    = 1
	// bufferSize sizes each connection's read and write buffers, pipeline
	// connections' included, in place of go-redis's 32 KiB (128 KiB for
	// pipelines). A session script's reply is well under 1 KiB and the
	// largest, a page of the session listing, is read in a few more
	// fills; a runner under load keeps a connection per request in
	// flight, and with the defaults those buffers were most of its heap.
	bufferSize = 4 << 10
)

// Options configure a Store.
type Options struct {
	// Prefix starts every key, so that several stores (or tests) can share
	// one database. It must not contain '{' or '}', which would move the
	// hash tags that keep related keys in one Cluster slot.
	Prefix string
	// Timeout bounds every call to Redis (default 2s). Give NewClient the
	// same value, so that the client's socket timeouts do not cut in first.
	Timeout time.Duration
	// Buckets is the number of shards of the global session index (default
	// 16). Sessions are spread over buckets by id, so changing it on a
	// populated database hides existing sessions from ListSessions until
	// they expire: choose it once.
	Buckets int
}

// Store keeps sessions, throttling counters and locks in Redis. It is safe
// for concurrent use and holds no state beyond its client and options.
type Store struct {
	c       redis.UniversalClient
	prefix  string
	timeout time.Duration
	buckets int
	// cluster: one script may only touch keys of one slot, so work on
	// keys of several slots (an attempt's throttle counters) takes one
	// round trip per key instead of one in all.
	cluster bool
}

var (
	_ auth.SessionStore = (*Store)(nil)
	_ auth.Throttle     = (*Store)(nil)
	_ auth.Locker       = (*Store)(nil)
)

// New returns a Store on c. It does not touch the network. It panics if
// o.Prefix contains a brace, a programming error that would break the
// one-slot-per-operation key layout.
func New(c redis.UniversalClient, o Options) *Store {
	if strings.ContainsAny(o.Prefix, "{}") {
		panic("redisstore: Options.Prefix must not contain '{' or '}'")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Buckets <= 0 {
		o.Buckets = DefaultBuckets
	}
	_, cluster := c.(*redis.ClusterClient)
	return &Store{c: c, prefix: o.Prefix, timeout: o.Timeout, buckets: o.Buckets, cluster: cluster}
}

// NewClient returns a client for a redis:// or rediss:// URL. A Redis
// Cluster is named by its seeds in go-redis's cluster URL form,
// redis://host1:6379?addr=host2:6379&addr=host3:6379.
//
// timeout is the Store's Options.Timeout (STORE_TIMEOUT; DefaultTimeout
// when zero or less). Dial, read, write and pool timeouts default to it,
// and go-redis honours each call's context deadline, so the deadline the
// Store gives a call is the one that applies: the client's own timeouts
// never cut in first, and they still bound what runs without a deadline
// (a cluster's background slot-map reload). A failed dial or command is
// tried once more, so that a Redis that is down fails a request quickly
// instead of holding it until API Gateway gives up. Options given in the
// URL win.
//
// A cluster client also reloads its slot map, in the background and at
// most twice a second, after a connection error or a CLUSTERDOWN or
// MASTERDOWN reply, and at least every 10 s, so that a promoted replica
// serves its slots within about a second of its promotion
// (docs/security.md 36).
//
// NewClient does not touch the network: go-redis connects on first use, so
// a Lambda cold start pays no round trip here. The error never repeats the
// URL, which may hold a password.
func NewClient(rawURL string, timeout time.Duration) (redis.UniversalClient, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("redisstore: the Redis URL cannot be parsed")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("redisstore: Redis URL scheme %q, want redis or rediss", u.Scheme)
	}
	if u.Query().Has("addr") {
		o, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redisstore: cluster URL: %w", err)
		}
		failFast(timeout, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.DialerRetries, &o.MaxRetries, &o.ContextTimeoutEnabled)
		// Not the pipeline buffers: setting them would give a cluster
		// client a pipeline pool it does not otherwise have.
		smallBuffers(&o.ReadBufferSize, &o.WriteBufferSize)
		o.ClusterStateReloadInterval = clusterStateReloadInterval
		cc := redis.NewClusterClient(o)
		cc.AddHook(newSlotMapReloader(cc))
		return cc, nil
	}
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redisstore: URL: %w", err)
	}
	failFast(timeout, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.DialerRetries, &o.MaxRetries, &o.ContextTimeoutEnabled)
	smallBuffers(&o.ReadBufferSize, &o.WriteBufferSize, &o.PipelineReadBufferSize, &o.PipelineWriteBufferSize)
	return redis.NewClient(o), nil
}

// failFast fills in what a URL left unset with NewClient's defaults, for
// a single server and a cluster alike (their options are distinct types
// with the same fields).
func failFast(timeout time.Duration, dial, read, write, pool *time.Duration, dialerTries, retries *int, contextTimeout *bool) {
	for _, d := range []*time.Duration{dial, read, write, pool} {
		*d = cmp.Or(*d, timeout)
	}
	*dialerTries = cmp.Or(*dialerTries, dialerRetries)
	*retries = cmp.Or(*retries, maxRetries)
	*contextTimeout = true
}

// smallBuffers gives the buffer sizes a URL left unset bufferSize.
func smallBuffers(sizes ...*int) {
	for _, n := range sizes {
		*n = cmp.Or(*n, bufferSize)
	}
}

// Ping checks that Redis answers. Returns CodeUnavailable when it does not.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.fail("ping", s.c.Ping(ctx).Err())
}

// bound gives one call its deadline.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// fail translates a go-redis error. Anything that says the server cannot
// serve now (no connection, a timeout, a loading, read-only or failed-over
// node) is Unavailable, answered with 503. A server's error reply to a
// command or a script is a bug in this package and stays an ordinary error.
func (s *Store) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	if unavailable(err) {
		return auth.Unavailable("redis", fmt.Errorf("%s: %w", op, err))
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var re redis.Error
	if errors.As(err, &re) {
		// The replies of a server that is alive but cannot serve this command
		// now (loading, failing over, out of memory, busy with a script) or
		// that refuses us (credentials).
		msg := re.Error()
		for _, p := range [...]string{
			"LOADING", "READONLY", "CLUSTERDOWN", "MASTERDOWN", "TRYAGAIN", "BUSY",
			"NOREPLICAS", "MISCONF", "OOM", "MOVED", "ASK", "NOAUTH", "WRONGPASS",
			"NOPERM", "ERR max number of clients",
		} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	// Not a reply from the server: the connection, the pool or the network
	// failed.
	return true
}

// Keys.

// userBase is the common start of every key of one user; scripts append
// "s:<sid>", "r:<sid>" or "ss" to it, which keeps them in the user's slot.
func (s *Store) userBase(uid int64) string {
	return s.prefix + "{u:" + strconv.FormatInt(uid, 10) + "}:"
}

func (s *Store) sessionKey(uid int64, sid string) string { return s.userBase(uid) + "s:" + sid }
func (s *Store) historyKey(uid int64, sid string) string { return s.userBase(uid) + "r:" + sid }
func (s *Store) userIndexKey(uid int64) string           { return s.userBase(uid) + "ss" }

// sessionKeys are the KEYS of every per-session script: the session hash,
// the user index and the history, built on one user base (this runs on
// every authenticated request).
func (s *Store) sessionKeys(uid int64, sid string) []string {
	base := s.userBase(uid)
	return []string{base + "s:" + sid, base + "ss", base + "r:" + sid}
}

func (s *Store) bucketBase(b int) string { return fmt.Sprintf("%s{gs:%02d}:", s.prefix, b) }
func (s *Store) createdKey(b int) string { return s.bucketBase(b) + "c" }
func (s *Store) expiryKey(b int) string  { return s.bucketBase(b) + "e" }
func (s *Store) cursorKey(b int) string  { return s.bucketBase(b) + "pc" }
func (s *Store) usersKey(b int) string   { return fmt.Sprintf("%s{gu:%02d}", s.prefix, b) }

// sessionBucket spreads sessions by id so that one busy user does not load
// one bucket.
func (s *Store) sessionBucket(sid string) int {
	h := fnv.New32a()
	h.Write([]byte(sid))
	return int(h.Sum32() % uint32(s.buckets))
}

func (s *Store) userBucket(uid int64) int {
	b := uid % int64(s.buckets)
	if b < 0 {
		b += int64(s.buckets)
	}
	return int(b)
}

// indexMember is a session's member in the global index: fixed-width
// creation time first, so that lexical order is creation order.
func indexMember(created int64, uid int64, sid string) string {
	return fmt.Sprintf("%016d:%d:%s", created, uid, sid)
}

// parseMember splits an index member. ok is false for anything this package
// did not write.
func parseMember(m string) (created int64, uid int64, sid string, ok bool) {
	c, rest, found := strings.Cut(m, ":")
	if !found || len(c) != 16 {
		return 0, 0, "", false
	}
	u, sid, found := strings.Cut(rest, ":")
	if !found || sid == "" {
		return 0, 0, "", false
	}
	var err error
	if created, err = strconv.ParseInt(c, 10, 64); err != nil || created < 0 {
		return 0, 0, "", false
	}
	if uid, err = strconv.ParseInt(u, 10, 64); err != nil {
		return 0, 0, "", false
	}
	return created, uid, sid, true
}

// Conversions of script replies. Lua hands back strings for stored values
// and integers for numbers it computed.

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

func integer(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case string:
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return n, nil
		}
		// Scores come back in the server's float format.
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return 0, fmt.Errorf("not a number: %q", x)
		}
		return int64(f), nil
	default:
		return 0, fmt.Errorf("not a number: %T", v)
	}
}
