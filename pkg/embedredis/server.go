// Package embedredis is the local runner's in-process Redis, which persists.
//
// `make run` needs no Redis server: it serves sessions from miniredis, an
// in-process server that speaks the real protocol, so the real client and
// the real Lua scripts of pkg/redisstore run against it. Sessions survive
// restarts (docs/security.md 37) because the server's data, with every
// key's remaining lifetime, is written to a snapshot file under the
// runner's directory at a short interval and on Close, and read back at
// Start (docs/architecture.md). A restart therefore behaves like one of a
// real Redis with persistence: a key that expired while the runner was
// stopped is gone, the others keep their remaining time.
//
// Lua scripts are not kept, as a real Redis does not keep them across a
// restart either: go-redis's Script.Run answers NOSCRIPT by sending the
// script again.
package embedredis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"authfn/pkg/auth"
)

const (
	// DefaultInterval is how often a snapshot is written when
	// Options.Interval is zero: a crash (the runner killed, not stopped)
	// loses at most that much, and writing a developer's few keys that
	// often costs nothing noticeable.
	DefaultInterval = 2 * time.Second
	// SnapshotName is the snapshot file's name inside Options.Dir.
	SnapshotName = "redis.snapshot"
	// closeTimeout bounds the final snapshot: the runner must stop even if
	// the disk hangs.
	closeTimeout = 10 * time.Second
)

// Options configure a Server.
type Options struct {
	// Dir holds the snapshot file (SnapshotName); it is created (mode 0700)
	// if missing. Required.
	Dir string
	// Interval is how often a snapshot is written while the server runs
	// (default DefaultInterval).
	Interval time.Duration
	// Logger receives the restore summary and snapshot problems (default:
	// discarded).
	Logger *slog.Logger
}

// Server is a running in-process Redis whose data outlives it.
type Server struct {
	mr   *miniredis.Miniredis
	c    *redis.Client // reads the data for snapshots, over the protocol
	path string
	log  *slog.Logger

	mu      sync.Mutex // serialises snapshots; guards failing and warned
	failing bool       // the last periodic snapshot failed (log once per outage)
	warned  bool       // keys of an unsupported type were reported

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Start starts a Redis server on 127.0.0.1 (a free port, see Addr) with the
// data of the snapshot in o.Dir, if there is one, and writes a snapshot
// every o.Interval until ctx ends or Close is called. Its clock is wall
// time, so keys expire when they would on a real server.
//
// A snapshot that cannot be read, is corrupt or was written by another
// format version never stops the start: it is logged as a warning and
// renamed to SnapshotName.corrupt-<time> for inspection, and the server
// starts empty, as the first start does.
//
// Returns CodeInvalidRequest for an empty o.Dir or a negative o.Interval,
// and CodeUnavailable when the directory cannot be created or no port can
// be bound.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Dir == "" {
		return nil, auth.Errorf(auth.CodeInvalidRequest, "The embedded Redis needs a directory for its snapshot.")
	}
	if o.Interval < 0 {
		return nil, auth.Errorf(auth.CodeInvalidRequest, "The embedded Redis snapshot interval must not be negative.")
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, auth.Unavailable("embedredis: create the snapshot directory", err)
	}
	s := &Server{
		mr:   miniredis.NewMiniRedis(),
		path: filepath.Join(o.Dir, SnapshotName),
		log:  o.Logger,
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	// miniredis's clock stands still unless told otherwise; ClockTTL makes
	// every command first age the TTLs by the wall time that has passed,
	// so expiry is exact and agrees with TIME and PEXPIREAT.
	s.mr.ClockTTL(true)
	removeTemps(o.Dir)
	// Restored before the server listens, so no client sees a half-loaded
	// database.
	s.restore(ctx)
	if err := s.mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, auth.Unavailable("embedredis: start in-process redis", err)
	}
	s.c = redis.NewClient(&redis.Options{Addr: s.mr.Addr(), PoolSize: 1, MaxRetries: -1})
	go s.every(ctx, o.Interval)
	return s, nil
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.mr.Addr() }

// Close writes a final snapshot and stops the server. Call it after the
// server's clients have stopped writing: a write that lands after the
// final snapshot is lost (each snapshot is a single point in time, so the
// data restored is always consistent). Later calls return the first
// call's result. Returns CodeUnavailable when the snapshot cannot be
// written; the server is stopped all the same.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := s.snapshot(ctx); err != nil {
			s.log.Error("embedded redis: the final snapshot failed; sessions since the last one are lost", "path", s.path, "err", err)
			s.closeErr = auth.Unavailable("embedredis: final snapshot", err)
		}
		_ = s.c.Close()
		s.mr.Close()
	})
	return s.closeErr
}

// every writes a snapshot each interval until ctx ends or Close begins.
// A failure is logged when it starts and when it ends, not every interval.
func (s *Server) every(ctx context.Context, interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case <-t.C:
			err := s.snapshot(ctx)
			s.mu.Lock()
			switch {
			case err != nil && !s.failing && ctx.Err() == nil:
				s.log.Error("embedded redis: snapshot failed; a crash now would lose sessions", "path", s.path, "err", err)
			case err == nil && s.failing:
				s.log.Info("embedded redis: snapshots written again", "path", s.path)
			}
			s.failing = err != nil
			s.mu.Unlock()
		}
	}
}

// snapshot captures every database at one point in time and replaces the
// snapshot file with it.
func (s *Server) snapshot(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, skipped, err := capture(ctx, s.c)
	if err != nil {
		return err
	}
	if len(skipped) > 0 && !s.warned {
		s.warned = true
		s.log.Warn("embedded redis: keys of a type the snapshot does not keep are lost on restart", "keys", skipped)
	}
	b, err := encode(snap)
	if err != nil {
		return err
	}
	return writeAtomic(s.path, b)
}

// restore loads the snapshot file into the (not yet listening) server. It
// never fails: a snapshot it cannot use is moved aside and the server
// starts empty.
func (s *Server) restore(ctx context.Context) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		s.log.InfoContext(ctx, "embedded redis: no snapshot yet, starting empty", "path", s.path)
		return
	}
	if err != nil {
		s.quarantine(ctx, fmt.Errorf("read: %w", err))
		return
	}
	snap, err := decode(b)
	if err != nil {
		s.quarantine(ctx, err)
		return
	}
	n, expired := apply(s.mr, snap, time.Now())
	s.log.InfoContext(ctx, "embedded redis: restored the snapshot", "path", s.path,
		"keys", n, "expired_while_stopped", expired, "saved_at", snap.SavedAt)
}

// quarantine renames an unusable snapshot so that it is kept for a look but
// never read again, and logs why.
func (s *Server) quarantine(ctx context.Context, why error) {
	aside := s.path + ".corrupt-" + time.Now().UTC().Format("20060102T150405.000000000Z")
	if err := os.Rename(s.path, aside); err != nil {
		s.log.WarnContext(ctx, "embedded redis: the snapshot cannot be used and cannot be moved aside; starting empty, and the next snapshot replaces it",
			"path", s.path, "err", why, "rename_err", err)
		return
	}
	s.log.WarnContext(ctx, "embedded redis: the snapshot cannot be used; moved it aside and starting empty (sessions in it are lost)",
		"path", s.path, "moved_to", aside, "err", why)
}
