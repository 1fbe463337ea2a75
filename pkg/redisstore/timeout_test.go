package redisstore_test

import (
	"context"
	"net"
	"testing"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/redisstore"
)

// silentServer accepts connections and never answers, like a Redis that
// hangs; it touches no one else's server.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen = %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, conn)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return l.Addr().String()
}

// TestStoreTimeoutGoverns: the deadline of a call is the store's Timeout
// (STORE_TIMEOUT), longer or shorter than go-redis's own defaults, and the
// client's socket timeouts never cut in first (docs/security.md 27), on a
// single server and on a cluster alike.
func TestStoreTimeoutGoverns(t *testing.T) {
	addr := silentServer(t)
	urls := map[string]string{"server": "redis://" + addr, "cluster": "redis://" + addr + "?addr=" + addr}
	for _, kind := range []string{"server", "cluster"} {
		for _, timeout := range []time.Duration{3 * time.Second, 500 * time.Millisecond} {
			t.Run(kind+"/"+timeout.String(), func(t *testing.T) {
				t.Parallel()
				c, err := redisstore.NewClient(urls[kind], timeout)
				if err != nil {
					t.Fatalf("NewClient = %v, want nil", err)
				}
				t.Cleanup(func() { c.Close() })
				s := redisstore.New(c, redisstore.Options{Timeout: timeout})
				for _, call := range []struct {
					name string
					do   func(context.Context) error
				}{
					{"Ping", s.Ping},
					{"TouchSession", func(ctx context.Context) error { _, err := s.TouchSession(ctx, 1, "s", baseTime()); return err }},
				} {
					start := time.Now()
					err := call.do(t.Context())
					// Generous bounds: this checks which deadline applies,
					// not how fast the machine is.
					if took := time.Since(start); took < timeout*9/10 || took > timeout+time.Second {
						t.Errorf("%s failed after %v, want about the store's %v", call.name, took, timeout)
					}
					if code := auth.ErrorCode(err); code != auth.CodeUnavailable {
						t.Errorf("%s = %v (code %s), want code %s", call.name, err, code, auth.CodeUnavailable)
					}
				}
			})
		}
	}
}
