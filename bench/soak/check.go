package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Tally is what one stretch of the run (a slice, the burst, the end)
// counted. Every answer falls in exactly one class: expected, 5xx, 429 or
// other unexpected (a status the operation should not get, a transport
// error, a body that did not decode).
type Tally struct {
	Requests   int
	Status5xx  int
	Status429  int
	Unexpected int
	// Odd counts the answers that were not expected, by "METHOD /path
	// status" (or "... error"), for the failure message.
	Odd map[string]int
	// Latencies of the answers, from the time each request was due to be
	// sent (open loop: a slow answer delays no later request's clock).
	Latencies []time.Duration
}

// P99 is the 99th percentile of the latencies (nearest rank), 0 with none.
func (t Tally) P99() time.Duration {
	if len(t.Latencies) == 0 {
		return 0
	}
	s := slices.Clone(t.Latencies)
	slices.Sort(s)
	rank := (99*len(s) + 99) / 100 // ceil(0.99 n)
	return s[rank-1]
}

// RedisState is the run's share of Redis: the keys under its prefix and
// the sum of their MEMORY USAGE.
type RedisState struct {
	Keys  int
	Bytes int64
	Names []string // sorted; only for the baseline and the final state
}

// Slice is one row of the table.
type Slice struct {
	Name       string
	Tally      Tally
	RSS        int64 // the runner's VmRSS at the slice's end, bytes
	Redis      RedisState
	UsedMemory int64   // the Redis server's used_memory (all tenants), bytes
	Skipped    int64   // requests due in the slice that were not sent
	LoadAvg    float64 // the machine's 1-minute load average at the slice's end
}

// Result is a whole run.
type Result struct {
	Phases   []Tally // what the timed slices do not count: the burst, the end
	Slices   []Slice
	Baseline RedisState // after setup, before the load
	Final    RedisState // after the load, every session ended, cleanup run
}

// Limits are the rules a run must keep.
type Limits struct {
	// RSSGrowth is how far the runner's RSS may rise above its value at the
	// end of the first slice (0.20: 20 %).
	RSSGrowth float64
	// RedisSlack is how many bytes the final state may exceed the
	// baseline by: the same keys, with other timestamps in them.
	RedisSlack int64
}

// Check returns why the run failed, one sentence per broken rule; nil
// when it passed.
func Check(r Result, l Limits) []string {
	var total Tally
	total.Odd = map[string]int{}
	tallies := slices.Clone(r.Phases)
	for _, s := range r.Slices {
		tallies = append(tallies, s.Tally)
	}
	for _, t := range tallies {
		total.Requests += t.Requests
		total.Status5xx += t.Status5xx
		total.Status429 += t.Status429
		total.Unexpected += t.Unexpected
		for k, n := range t.Odd {
			total.Odd[k] += n
		}
	}

	var fails []string
	if total.Requests == 0 {
		fails = append(fails, "no request was answered")
	}
	if total.Status5xx > 0 {
		fails = append(fails, fmt.Sprintf("%d answers were 5xx", total.Status5xx))
	}
	if total.Status429 > 0 {
		fails = append(fails, fmt.Sprintf("%d answers were 429: the load ran into the login throttle", total.Status429))
	}
	if total.Unexpected > 0 {
		fails = append(fails, fmt.Sprintf("%d answers had a status the operation should not get, or none", total.Unexpected))
	}
	if len(total.Odd) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(total.Odd)) {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, total.Odd[k]))
		}
		fails = append(fails, "not as expected: "+strings.Join(parts, ", "))
	}

	fails = append(fails, checkRSS(r.Slices, l.RSSGrowth)...)

	b, f := r.Baseline, r.Final
	if f.Keys > b.Keys || f.Bytes > b.Bytes+l.RedisSlack {
		msg := fmt.Sprintf("Redis holds %d keys (%d bytes) of the run after every session ended and cleanup ran; the baseline was %d keys (%d bytes), %d bytes of slack",
			f.Keys, f.Bytes, b.Keys, b.Bytes, l.RedisSlack)
		if extra := missingFrom(b.Names, f.Names); len(extra) > 0 {
			if len(extra) > 5 {
				extra = append(extra[:5], "...")
			}
			msg += "; new keys: " + strings.Join(extra, " ")
		}
		fails = append(fails, msg)
	}
	return fails
}

// checkRSS holds every slice after the first to the first's RSS plus the
// growth allowed; the first slice includes the warm-up, so its end is the
// reference.
func checkRSS(ss []Slice, growth float64) []string {
	if len(ss) < 2 {
		return []string{"fewer than two slices: the RSS rule needs a first slice to compare with"}
	}
	first := ss[0].RSS
	if first <= 0 {
		return []string{"no RSS reading of the runner at the end of the first slice"}
	}
	limit := float64(first) * (1 + growth)
	worst := -1
	for i, s := range ss[1:] {
		if s.RSS <= 0 {
			return []string{fmt.Sprintf("no RSS reading of the runner in slice %s", s.Name)}
		}
		if float64(s.RSS) > limit && (worst < 0 || s.RSS > ss[worst].RSS) {
			worst = i + 1
		}
	}
	if worst < 0 {
		return nil
	}
	return []string{fmt.Sprintf("the runner's RSS grew from %.1f MB at the end of slice %s to %.1f MB in slice %s, more than %+.0f %%",
		mb(first), ss[0].Name, mb(ss[worst].RSS), ss[worst].Name, growth*100)}
}

// missingFrom returns the names in b (sorted) that are not in a (sorted).
func missingFrom(a, b []string) []string {
	var out []string
	for _, n := range b {
		if _, found := slices.BinarySearch(a, n); !found {
			out = append(out, n)
		}
	}
	return out
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }
