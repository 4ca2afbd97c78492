package redis_test

import (
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestPoolDropsConnectionsClosedByRedis: after Redis restarts, the
// connection left idle in the pool is found closed when borrowed and
// replaced, so the first command after the restart succeeds. A live idle
// connection is reused.
func TestPoolDropsConnectionsClosedByRedis(t *testing.T) {
	t.Parallel()
	dir, port := t.TempDir(), testenv.FreePort(t)
	srv := testenv.RedisServer(t, dir, port, "--appendonly", "no")
	pool, err := redis.NewPool(srv.URL, redis.Options{Timeout: time.Second, MaxActive: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	clientID := func() int64 {
		t.Helper()
		c := pool.Get()
		defer c.Close()
		id, err := redigo.Int64(c.Do("CLIENT", "ID"))
		if err != nil {
			t.Fatalf("CLIENT ID: %v", err)
		}
		return id
	}
	first := clientID()
	if again := clientID(); again != first {
		t.Errorf("a live idle connection was replaced: client %d, then %d", first, again)
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	testenv.RedisServer(t, dir, port, "--appendonly", "no")
	c := pool.Get()
	defer c.Close()
	if _, err := c.Do("PING"); err != nil {
		t.Fatalf("first command after the restart: %v", err)
	}
}
