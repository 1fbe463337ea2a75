package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"authfn/pkg/redisstore"
)

// DefaultRedisURL is the Redis that tests use when TEST_REDIS_URL is unset:
// the one infra/docker-compose.yml publishes.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// Redis returns a client on TEST_REDIS_URL (default DefaultRedisURL) and a
// key prefix that no other test uses. The prefix's keys are deleted (SCAN
// MATCH, never KEYS) and the client is closed when the test ends. Under
// go test -short it skips the test; a server that does not answer fails it
// with a message saying how to start one.
func Redis(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping a test that needs Redis under -short")
	}
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		url = DefaultRedisURL
	}
	return connectRedis(t, url, "TEST_REDIS_URL", false, "Redis at %s does not answer (%v). Start one with\n"+
		"\tredis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no\n"+
		"or set TEST_REDIS_URL to another server; go test -short skips these tests.")
}

// connectRedis opens url, fails t with notAnswering (given the redacted
// URL and the error) if it does not answer, and gives the test a key
// prefix whose keys are deleted, on every master, when it ends.
func connectRedis(t testing.TB, url, variable string, cluster bool, notAnswering string) (redis.UniversalClient, string) {
	t.Helper()
	c, err := redisstore.NewClient(url, 0)
	if err != nil {
		t.Fatalf("%s: %v", variable, err)
	}
	if _, ok := c.(*redis.ClusterClient); ok != cluster {
		c.Close()
		t.Fatalf("%s %s: a cluster URL is wanted exactly for cluster tests", variable, redactRedisURL(url))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		t.Fatalf(notAnswering, redactRedisURL(url), err)
	}
	prefix := redisPrefix(t.Name())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := deleteRedisKeys(ctx, c, prefix+"*"); err != nil {
			t.Errorf("delete the test's Redis keys %s*: %v", prefix, err)
		}
		c.Close()
	})
	return c, prefix
}

// RedisStore returns a redisstore.Store on Redis(t)'s client and prefix.
func RedisStore(t testing.TB) *redisstore.Store {
	t.Helper()
	c, prefix := Redis(t)
	return redisstore.New(c, redisstore.Options{Prefix: prefix})
}

// redisPrefix makes a prefix from the test's name, readable in redis-cli
// but free of braces (hash tags) and glob characters (SCAN MATCH), plus
// random bytes so that reruns and parallel packages never share one.
func redisPrefix(name string) string {
	name = regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(name, "_")
	if len(name) > 40 {
		name = name[:40]
	}
	var b [6]byte
	rand.Read(b[:])
	return "test:" + name + ":" + hex.EncodeToString(b[:]) + ":"
}

// deleteRedisKeys removes every key matching pattern, on every master of a
// Cluster, a SCAN page at a time.
func deleteRedisKeys(ctx context.Context, c redis.UniversalClient, pattern string) error {
	del := func(ctx context.Context, node redis.UniversalClient) error {
		var cursor uint64
		for {
			keys, next, err := node.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				// One UNLINK per key: in a Cluster the keys of one page
				// live in many slots.
				if _, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
					for _, k := range keys {
						p.Unlink(ctx, k)
					}
					return nil
				}); err != nil {
					return err
				}
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return del(ctx, n) })
	}
	return del(ctx, c)
}

// redactRedisURL drops the password from a URL before it is printed.
func redactRedisURL(url string) string {
	return regexp.MustCompile(`//[^@/]*@`).ReplaceAllString(url, "//***@")
}

// DefaultRedisClusterURL is the cluster `make test-cluster` starts
// (scripts/redis-cluster), in go-redis's cluster URL form.
const DefaultRedisClusterURL = "redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002"

// RedisCluster is Redis for a Redis Cluster: a client on
// TEST_REDIS_CLUSTER_URL (default DefaultRedisClusterURL) and a key prefix
// no other test uses, whose keys are deleted from every master when the
// test ends. A cluster that does not answer fails the test.
func RedisCluster(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	url := os.Getenv("TEST_REDIS_CLUSTER_URL")
	if url == "" {
		url = DefaultRedisClusterURL
	}
	return connectRedis(t, url, "TEST_REDIS_CLUSTER_URL", true, "the Redis Cluster at %s does not answer (%v). "+
		"Start one with scripts/redis-cluster start, or set TEST_REDIS_CLUSTER_URL.")
}
