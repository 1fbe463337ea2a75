package redisstore

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// reloadEvery rate-limits slotMapReloader: during a failover every
	// request fails, and one CLUSTER SLOTS per half second per client is
	// enough to see the promoted replica soon after it takes over.
	reloadEvery = 500 * time.Millisecond
	// clusterStateReloadInterval replaces go-redis's 60 s: a slot map older
	// than this is reloaded in the background on the next command, so even
	// a change that no error revealed is picked up quickly.
	clusterStateReloadInterval = 10 * time.Second
)

// slotMapReloader is a go-redis hook for a ClusterClient that reloads the
// slot map after an error that says a node is gone or the cluster is
// changing (docs/security.md 36). go-redis itself reloads it only on a
// MOVED or ASK redirect, or after ClusterStateReloadInterval: when a master
// dies, nothing answers MOVED, and without this hook every command for its
// slots keeps going to the dead address long after a replica took over.
// The reload runs in the background (ReloadState is lazy), so it adds
// nothing to the failed command's time, and at most one starts per
// reloadEvery, so a storm of errors does not make a storm of reloads.
type slotMapReloader struct {
	reload func()
	every  time.Duration
	last   atomic.Int64 // unix nanoseconds of the last reload started
}

func newSlotMapReloader(cc *redis.ClusterClient) *slotMapReloader {
	return &slotMapReloader{reload: func() { cc.ReloadState(context.Background()) }, every: reloadEvery}
}

func (h *slotMapReloader) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *slotMapReloader) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.after(err)
		return err
	}
}

func (h *slotMapReloader) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.after(err)
		return err
	}
}

// after starts a reload if err calls for one and none started within
// h.every.
func (h *slotMapReloader) after(err error) {
	if !topologyError(err) {
		return
	}
	now := time.Now().UnixNano()
	last := h.last.Load()
	if now-last < int64(h.every) || !h.last.CompareAndSwap(last, now) {
		return
	}
	h.reload()
}

// topologyError reports whether err may mean that the slot map is out of
// date: the connection failed (refused, reset, EOF, a timeout), or a node
// says the cluster is down or a master is unreachable. A reply to the
// command itself (a script's error, a missing key) and a caller that gave
// up say nothing about the cluster.
func topologyError(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		return strings.HasPrefix(msg, "CLUSTERDOWN") || strings.HasPrefix(msg, "MASTERDOWN")
	}
	return true
}
