package redis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func TestNewPoolRejectsBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "http://h:1", "localhost:6379", "redis://:hunter2@h:1/notadb"} {
		_, err := redis.NewPool(u, redis.Options{})
		if err == nil {
			t.Errorf("NewPool(%q): got nil error", u)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("NewPool(%q): error leaks the password: %v", u, err)
		}
	}
}

func TestPoolTalksToRedis(t *testing.T) {
	t.Parallel()
	url, _ := testenv.Redis(t)
	pool, err := redis.NewPool(url, redis.Options{Timeout: time.Second, MaxActive: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := redis.Ping(context.Background(), pool, time.Second); err != nil {
		t.Fatal(err)
	}
	c := pool.Get()
	defer c.Close()
	if _, err := c.Do("SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	if got, err := redigo.String(c.Do("GET", "k")); err != nil || got != "v" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// TestPingIsBounded: with the only connection taken, Ping gives up at its
// deadline instead of waiting for ever.
func TestPingIsBounded(t *testing.T) {
	t.Parallel()
	url, _ := testenv.Redis(t)
	pool, err := redis.NewPool(url, redis.Options{Timeout: time.Second, MaxActive: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	held := pool.Get()
	defer held.Close()
	if err := held.Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = redis.Ping(context.Background(), pool, 100*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Ping took %v", d)
	}
}

func TestPingFailsWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	srv := testenv.RedisServer(t, "", 0)
	pool, err := redis.NewPool(srv.URL, redis.Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := redis.Ping(context.Background(), pool, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := redis.Ping(context.Background(), pool, time.Second); err == nil {
		t.Fatal("Ping succeeded with Redis stopped")
	}
}
