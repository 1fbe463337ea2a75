package web

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestBodyReadTimeoutIs408: a client that sends its headers and then too
// little of the body it announced is answered 408 Request Timeout with a
// problem document, not left with nginx's 499 (which is only for a client
// that went away).
func TestBodyReadTimeoutIs408(t *testing.T) {
	resp := sendSlowBody(t, decodeServer(), "POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":")
	if resp.StatusCode != http.StatusRequestTimeout || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		t.Errorf("status %d, Content-Type %q; want 408 and a problem document", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestOAuthBodyReadTimeout: the same on an RFC 6749 endpoint, as its
// invalid_request error with status 408.
func TestOAuthBodyReadTimeout(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("POST /token", HandleOAuth(discard, func(w http.ResponseWriter, r *http.Request) error {
		_, err := ReadBody(w, r, "application/x-www-form-urlencoded")
		return err
	}))
	resp := sendSlowBody(t, Stack(discard, mux, Options{}), "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=")
	if resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("status %d, Content-Type %q; want 408 and an RFC 6749 error", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// sendSlowBody serves h on a real http.Server with a short read deadline
// and sends it headers that announce 100 bytes of body, then only part of
// it; it returns the answer.
func sendSlowBody(t *testing.T, h http.Handler, head string) *http.Response {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a body that timed out: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
