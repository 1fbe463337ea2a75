package main

import (
	"strings"
	"testing"
	"time"
)

var limits = Limits{RSSGrowth: 0.20, RedisSlack: 1024}

// healthy is a run that keeps every rule: slice 1 at 40 MB, the others
// at most 20 % above, Redis back to its baseline but for a timestamp.
func healthy() Result {
	ok := Tally{Requests: 1000, Latencies: []time.Duration{time.Millisecond}}
	var ss []Slice
	for i, rss := range []int64{40 << 20, 44 << 20, 48 << 20, 47 << 20} {
		ss = append(ss, Slice{Name: string(rune('1' + i)), Tally: ok, RSS: rss})
	}
	return Result{
		Phases:   []Tally{ok, {Requests: 10}},
		Slices:   ss,
		Baseline: RedisState{Keys: 56, Bytes: 6896, Names: []string{"p:{gu:01}", "p:{u:1}:ss"}},
		Final:    RedisState{Keys: 56, Bytes: 6904, Names: []string{"p:{gu:01}", "p:{u:1}:ss"}},
	}
}

func TestHealthyRunPasses(t *testing.T) {
	if fails := Check(healthy(), limits); fails != nil {
		t.Fatalf("a healthy run failed: %q", fails)
	}
}

func TestEachBrokenRuleFailsTheRun(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(*Result)
		want   []string // substrings of the failure, in order
	}{
		{"one 5xx in a slice", func(r *Result) {
			r.Slices[2].Tally.Status5xx = 1
			r.Slices[2].Tally.Odd = map[string]int{"GET /me 503": 1}
		}, []string{"1 answers were 5xx", "GET /me 503 ×1"}},
		{"a 5xx in the burst", func(r *Result) {
			r.Phases[0].Status5xx = 2
			r.Phases[0].Odd = map[string]int{"POST /login 500": 2}
		}, []string{"2 answers were 5xx", "POST /login 500 ×2"}},
		{"a throttled login", func(r *Result) {
			r.Slices[1].Tally.Status429 = 1
			r.Slices[1].Tally.Odd = map[string]int{"POST /login 429": 1}
		}, []string{"1 answers were 429", "POST /login 429 ×1"}},
		{"an unexpected 401 at the end", func(r *Result) {
			r.Phases[1].Unexpected = 3
			r.Phases[1].Odd = map[string]int{"POST /logout 401": 3}
		}, []string{"3 answers had a status", "POST /logout 401 ×3"}},
		{"RSS 21 % above slice 1", func(r *Result) { r.Slices[3].RSS = 40<<20 + 40<<20*21/100 }, []string{
			"RSS grew from 40.0 MB at the end of slice 1 to 48.4 MB in slice 4, more than +20 %"}},
		{"RSS missing in a later slice", func(r *Result) { r.Slices[2].RSS = 0 }, []string{"no RSS reading of the runner in slice 3"}},
		{"one slice only", func(r *Result) { r.Slices = r.Slices[:1] }, []string{"fewer than two slices"}},
		{"nothing answered", func(r *Result) {
			r.Phases = nil
			for i := range r.Slices {
				r.Slices[i].Tally = Tally{}
			}
		}, []string{"no request was answered"}},
		{"a session left in Redis", func(r *Result) {
			r.Final.Keys = 58
			r.Final.Bytes = 7700
			r.Final.Names = []string{"p:{gu:01}", "p:{u:7}:s:abc", "p:{u:7}:ss", "p:{u:1}:ss"}
		}, []string{"Redis holds 58 keys (7700 bytes)", "baseline was 56 keys (6896 bytes)", "new keys: p:{u:7}:s:abc p:{u:7}:ss"}},
		{"the same keys grown past the slack", func(r *Result) { r.Final.Bytes = 6896 + 1025 }, []string{"Redis holds 56 keys (7921 bytes)", "1024 bytes of slack"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := healthy()
			tc.break_(&r)
			fails := strings.Join(Check(r, limits), "\n")
			rest := fails
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("failures %q do not say %q", fails, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestRSSAtTheLimitPasses(t *testing.T) {
	r := healthy()
	r.Slices[3].RSS = 48 << 20 // exactly +20 %
	if fails := Check(r, limits); fails != nil {
		t.Fatalf("RSS at exactly +20 %% failed: %q", fails)
	}
}

func TestP99IsTheNearestRank(t *testing.T) {
	var tl Tally
	for i := 200; i >= 1; i-- { // out of order on purpose
		tl.Latencies = append(tl.Latencies, time.Duration(i)*time.Millisecond)
	}
	if got := tl.P99(); got != 198*time.Millisecond {
		t.Fatalf("p99 of 1..200 ms = %s, want 198ms", got)
	}
	if got := (Tally{}).P99(); got != 0 {
		t.Fatalf("p99 of nothing = %s", got)
	}
	if got := (Tally{Latencies: []time.Duration{7}}).P99(); got != 7 {
		t.Fatalf("p99 of one sample = %s", got)
	}
}

func TestGlobEscapeKeepsThePrefixLiteral(t *testing.T) {
	if got := globEscape(`soak-1:a*b?[c]\`); got != `soak-1:a\*b\?\[c\]\\` {
		t.Fatalf("globEscape = %q", got)
	}
}
