package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// replyError is a server's error reply, as go-redis hands it back.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

func TestTopologyError(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{redis.Nil, false},
		{replyError("NOSCRIPT No matching script"), false},
		{replyError("ERR wrong number of arguments"), false},
		{context.Canceled, false},
		{refused, true},
		{io.EOF, true},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{context.DeadlineExceeded, true},
		{replyError("CLUSTERDOWN The cluster is down"), true},
		{replyError("MASTERDOWN Link with MASTER is down"), true},
	} {
		if got := topologyError(tc.err); got != tc.want {
			t.Errorf("topologyError(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestSlotMapReloaderIsRateLimited: a storm of connection errors starts
// one reload per interval, not one per error, and errors that say nothing
// about the cluster start none.
func TestSlotMapReloaderIsRateLimited(t *testing.T) {
	var mu sync.Mutex
	reloads := 0
	h := &slotMapReloader{every: time.Minute, reload: func() { mu.Lock(); reloads++; mu.Unlock() }}
	count := func() int { mu.Lock(); defer mu.Unlock(); return reloads }
	failing := h.ProcessHook(func(context.Context, redis.Cmder) error { return io.EOF })
	missing := h.ProcessHook(func(context.Context, redis.Cmder) error { return redis.Nil })
	pipeline := h.ProcessPipelineHook(func(context.Context, []redis.Cmder) error { return io.EOF })

	for range 100 {
		if err := missing(t.Context(), nil); err != redis.Nil {
			t.Fatalf("the hook changed the error to %v", err)
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("%d reloads after replies, want 0", n)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if err := failing(t.Context(), nil); err != io.EOF {
					t.Errorf("the hook changed the error to %v", err)
				}
			}
		})
	}
	wg.Wait()
	if n := count(); n != 1 {
		t.Fatalf("%d reloads after a burst of 800 errors, want 1", n)
	}
	// The burst is over (wg.Wait orders this write after it): let the
	// interval pass.
	h.every = 10 * time.Millisecond
	time.Sleep(20 * time.Millisecond)
	_ = pipeline(t.Context(), nil)
	_ = failing(t.Context(), nil)
	if n := count(); n != 2 {
		t.Errorf("%d reloads after the interval passed, want 2", n)
	}
}
