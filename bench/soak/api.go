package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// api calls the service under its base URL (…/api/auth/v2).
type api struct {
	base string
}

// tokenPair is the part of a login or refresh answer the load uses.
type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	SessionID    string `json:"session_id"`
}

// call sends one request and decodes a 2xx answer's body into out (when
// out is not nil). It returns the status, or an error for a transport
// failure or a body that does not decode.
func (a *api) call(ctx context.Context, c *http.Client, method, path, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("User-Agent", "authfn-soak")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// Read to the end, so that the connection goes back to the pool.
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// newClient returns an HTTP client whose connections leave from local (nil:
// any address). Each test user gets its own loopback address, so that the
// login throttle per client address sees users, not one busy client.
func newClient(local net.IP) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConns:        512,
			MaxIdleConnsPerHost: 64,
			// Shorter than the runner's IdleTimeout (60 s), so that the
			// client never reuses a connection the server is closing.
			IdleConnTimeout: 30 * time.Second,
		},
	}
}

// loopbackV4 reports whether base names an IPv4 loopback address, from
// which other loopback addresses can reach it.
func loopbackV4(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.To4() != nil && ip.IsLoopback()
}
