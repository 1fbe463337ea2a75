package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// rss reads the resident set size (VmRSS) of process pid from /proc.
func rss(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS of %d: %w", pid, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// loadAvg reads the machine's 1-minute load average: on a machine shared
// with other work, what explains a slice that the runner could not keep up
// with.
func loadAvg() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, errors.New("empty /proc/loadavg")
	}
	return strconv.ParseFloat(f[0], 64)
}

// redisProbe measures the run's share of a Redis server it shares with
// others (tests of other packages, other runs): only the keys under the
// run's prefix count.
type redisProbe struct {
	c       *redis.Client
	pattern string
}

func newRedisProbe(c *redis.Client, prefix string) *redisProbe {
	return &redisProbe{c: c, pattern: globEscape(prefix) + "*"}
}

// state counts the run's keys and sums their MEMORY USAGE (every element
// sampled). With names, it lists them too.
func (p *redisProbe) state(ctx context.Context, names bool) (RedisState, error) {
	var keys []string
	it := p.c.Scan(ctx, 0, p.pattern, 1000).Iterator()
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	if err := it.Err(); err != nil {
		return RedisState{}, fmt.Errorf("scan %s: %w", p.pattern, err)
	}
	var st RedisState
	for chunk := range slices.Chunk(keys, 500) {
		cmds := make([]*redis.IntCmd, len(chunk))
		_, err := p.c.Pipelined(ctx, func(pl redis.Pipeliner) error {
			for i, k := range chunk {
				cmds[i] = pl.MemoryUsage(ctx, k, 0)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return RedisState{}, fmt.Errorf("memory usage: %w", err)
		}
		for i, c := range cmds {
			n, err := c.Result()
			if errors.Is(err, redis.Nil) {
				continue // gone since the scan: expired or deleted
			}
			if err != nil {
				return RedisState{}, fmt.Errorf("memory usage %s: %w", chunk[i], err)
			}
			st.Keys++
			st.Bytes += n
			if names {
				st.Names = append(st.Names, chunk[i])
			}
		}
	}
	slices.Sort(st.Names)
	return st, nil
}

// usedMemory is the server's used_memory: every tenant's, shown for
// scale, not checked.
func (p *redisProbe) usedMemory(ctx context.Context) (int64, error) {
	info, err := p.c.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("no used_memory in INFO memory")
}

// globEscape quotes the characters SCAN's MATCH treats as a pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
