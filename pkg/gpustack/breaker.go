package gpustack

import (
	"sync"
	"time"
)

// outcome is what one call taught the breaker about the upstream.
type outcome int

const (
	// answered: the upstream replied as GPUStack does, whatever the verdict
	// on the password. A 401 proves the server is healthy.
	answered outcome = iota
	// failed: timeout, connection error, 5xx, a body we cannot read.
	failed
	// abandoned: the caller's own context ended first, which says nothing
	// about the upstream.
	abandoned
)

type breakerState int

const (
	closed breakerState = iota
	open
	halfOpen
)

// breaker opens after threshold consecutive failures, refuses calls for
// openFor, then lets exactly one trial call through. It is per process on
// purpose: each Lambda instance protects itself without a shared store.
//
// Our own rather than sony/gobreaker: gobreaker reads time.Now itself, so
// its open period cannot be driven by an injected clock in tests, and what
// we need (consecutive count, one half-open trial, "abandoned" calls that
// count for nothing) is this much code.
type breaker struct {
	threshold int
	openFor   time.Duration

	mu       sync.Mutex
	state    breakerState
	failures int       // consecutive, while closed
	openedAt time.Time // while open
	trial    bool      // a half-open trial call is in flight
	gen      uint64    // bumped on every state change
}

// ticket ties a finished call to the state it was admitted in, so a slow
// call admitted before the breaker opened cannot close it afterwards.
type ticket struct{ gen uint64 }

// allow reports whether a call may go to the network now.
func (b *breaker) allow(now time.Time) (ticket, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case open:
		if now.Sub(b.openedAt) < b.openFor {
			return ticket{}, false
		}
		b.state, b.trial = halfOpen, true
		b.gen++
		return ticket{b.gen}, true
	case halfOpen:
		if b.trial {
			return ticket{}, false
		}
		b.trial = true // the previous trial was abandoned: try again
		return ticket{b.gen}, true
	default:
		return ticket{b.gen}, true
	}
}

// done records the outcome of a call admitted with t.
func (b *breaker) done(t ticket, o outcome, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.gen != b.gen {
		return
	}
	switch b.state {
	case closed:
		switch o {
		case answered:
			b.failures = 0
		case failed:
			if b.failures++; b.failures >= b.threshold {
				b.trip(now)
			}
		}
	case halfOpen:
		b.trial = false
		switch o {
		case answered:
			b.state, b.failures = closed, 0
			b.gen++
		case failed:
			b.trip(now)
		}
	}
}

func (b *breaker) trip(now time.Time) {
	b.state, b.openedAt, b.failures, b.trial = open, now, 0, false
	b.gen++
}
