package gpustack

import (
	"testing"
	"time"
)

func TestBreakerStates(t *testing.T) {
	t0 := time.Date(2026, 6, 29, 12, 0, 0, 0, time.UTC)
	b := &breaker{threshold: 2, openFor: 10 * time.Second}
	call := func(at time.Time, o outcome) bool {
		tk, ok := b.allow(at)
		if ok {
			b.done(tk, o, at)
		}
		return ok
	}

	if !call(t0, failed) || !call(t0, answered) || !call(t0, failed) {
		t.Fatal("closed breaker refused a call")
	}
	if b.state != closed {
		t.Fatalf("state = %v after failure, answer, failure; want closed (an answer resets the count)", b.state)
	}
	call(t0, failed)
	if b.state != open {
		t.Fatalf("state = %v after 2 consecutive failures, want open", b.state)
	}
	if call(t0.Add(9*time.Second), answered) {
		t.Fatal("open breaker let a call through before openFor")
	}

	// Half-open: one trial; others are refused while it runs.
	trial, ok := b.allow(t0.Add(10 * time.Second))
	if !ok {
		t.Fatal("breaker refused the half-open trial")
	}
	if _, ok := b.allow(t0.Add(10 * time.Second)); ok {
		t.Fatal("breaker let a second call through while the trial runs")
	}
	// An abandoned trial frees the slot without deciding anything.
	b.done(trial, abandoned, t0.Add(11*time.Second))
	if b.state != halfOpen {
		t.Fatalf("state = %v after an abandoned trial, want halfOpen", b.state)
	}
	if !call(t0.Add(11*time.Second), failed) || b.state != open {
		t.Fatalf("state = %v after a failed trial, want open", b.state)
	}
	if !call(t0.Add(21*time.Second), answered) || b.state != closed {
		t.Fatalf("state = %v after an answered trial, want closed", b.state)
	}
}

func TestBreakerIgnoresCallsFromAnEarlierState(t *testing.T) {
	t0 := time.Date(2026, 6, 29, 12, 0, 0, 0, time.UTC)
	b := &breaker{threshold: 1, openFor: time.Second}
	slow, _ := b.allow(t0) // admitted while closed, still running
	tk, _ := b.allow(t0)
	b.done(tk, failed, t0) // opens
	b.done(slow, answered, t0)
	if b.state != open {
		t.Fatalf("state = %v: a call admitted before the breaker opened closed it; want open", b.state)
	}
}
