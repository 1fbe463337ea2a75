package auth

import (
	"context"
	"sync"
	"time"
)

// Health statuses, overall and per check.
const (
	StatusHealthy   = "healthy"
	StatusDegraded  = "degraded"
	StatusUnhealthy = "unhealthy"
)

// slowCheck is the latency above which a store that answers makes the
// service "degraded" rather than "healthy".
const slowCheck = time.Second

// healthTimeout bounds each check, so a hung store gives a 503 quickly
// instead of tying up the caller (a load balancer's probe).
const healthTimeout = 2 * time.Second

// Check is the result of pinging one store.
type Check struct {
	Status    string  `json:"status"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

// Health is the state of the service and of each store it needs.
type Health struct {
	Status string           `json:"status"`
	Checks map[string]Check `json:"checks"`
}

// pinger is what a health check needs of a store.
type pinger interface {
	Ping(ctx context.Context) error
}

// Health pings PostgreSQL (the user store) and Redis (the session store)
// at the same time, each within its own deadline. Status is unhealthy if
// either is down, degraded if either is slow, healthy otherwise.
func (s *Maintenance) Health(ctx context.Context) Health {
	stores := map[string]pinger{"postgres": s.users, "redis": s.sessions}
	h := Health{Status: StatusHealthy, Checks: make(map[string]Check, len(stores))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, p := range stores {
		wg.Go(func() {
			c := check(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			h.Checks[name] = c
		})
	}
	wg.Wait()
	for _, c := range h.Checks {
		switch {
		case c.Status == StatusUnhealthy:
			h.Status = StatusUnhealthy
		case c.Status == StatusDegraded && h.Status == StatusHealthy:
			h.Status = StatusDegraded
		}
	}
	return h
}

func check(ctx context.Context, p pinger) Check {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	start := time.Now()
	err := p.Ping(ctx)
	c := Check{Status: StatusHealthy, LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
	switch {
	case err != nil:
		// The cause goes to the log by the caller if it wants; the body
		// only says what kind of failure, never connection strings.
		c.Status, c.Error = StatusUnhealthy, string(ErrorCode(err))
	case time.Since(start) > slowCheck:
		c.Status = StatusDegraded
	}
	return c
}
