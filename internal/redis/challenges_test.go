package redis_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func newChallenges(t *testing.T, now func() time.Time) *redis.Challenges {
	t.Helper()
	url, _ := testenv.Redis(t)
	pool, err := redis.NewPool(url, redis.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.Close() })
	return redis.NewChallenges(redis.PoolConns(pool), "gatehouse:test:challenge:", now)
}

func TestPasskeyChallengesSingleUse(t *testing.T) {
	t.Parallel()
	c := newChallenges(t, nil)
	ctx := context.Background()
	h, err := c.Put(ctx, []byte(`{"x":1}`), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Two takers at once: exactly one gets the value.
	var wg sync.WaitGroup
	got := make([][]byte, 2)
	for i := range got {
		wg.Go(func() {
			v, err := c.Take(ctx, h)
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	if (got[0] == nil) == (got[1] == nil) {
		t.Fatalf("got %q and %q, want one value and one nil", got[0], got[1])
	}
	for _, bad := range []string{"", "nope", h + "x", string(make([]byte, 300))} {
		if v, err := c.Take(ctx, bad); v != nil || err != nil {
			t.Errorf("Take(%.10q): got %q, %v, want nil, nil", bad, v, err)
		}
	}
}

func TestPasskeyChallengesExpire(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := newChallenges(t, clock)
	ctx := context.Background()
	h, err := c.Put(ctx, []byte("v"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute) // the key is still in Redis; the value says it expired
	mu.Unlock()
	if v, err := c.Take(ctx, h); v != nil || err != nil {
		t.Fatalf("got %q, %v, want nil, nil", v, err)
	}
}

// TestPasskeyChallengesOnCluster: each challenge is one key, so many
// handles spread over the slots of a Redis Cluster all work, once.
func TestPasskeyChallengesOnCluster(t *testing.T) {
	t.Parallel()
	set := testenv.RedisCluster(t)
	cl, err := redis.NewCluster(set.Addrs[:1], "", redis.Options{Timeout: time.Second, MaxActive: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	c := redis.NewChallenges(cl, "gatehouse:webauthn:challenge:", nil)
	ctx := context.Background()
	handles := make([]string, 20)
	for i := range handles {
		if handles[i], err = c.Put(ctx, []byte{byte(i)}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for i, h := range handles {
		v, err := c.Take(ctx, h)
		if err != nil || len(v) != 1 || v[0] != byte(i) {
			t.Fatalf("Take %d: got %v, %v", i, v, err)
		}
		if v, err := c.Take(ctx, h); v != nil || err != nil {
			t.Fatalf("Take %d again: got %v, %v, want nil, nil", i, v, err)
		}
	}
}
