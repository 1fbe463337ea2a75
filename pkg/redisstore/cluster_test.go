//go:build rediscluster

package redisstore_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"authfn/pkg/testenv"
)

// A Redis Cluster joins the backends: every contract suite and store test
// then runs with keys spread over three masters, which proves that no
// command or script crosses a slot (the cluster refuses one that does).
func init() {
	clusterBackends = append(clusterBackends, backend{"cluster", func(t *testing.T) (redis.UniversalClient, string, func(time.Duration)) {
		c, prefix := testenv.RedisCluster(t)
		return c, prefix, time.Sleep
	}})
}
