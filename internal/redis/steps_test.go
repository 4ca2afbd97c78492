package redis_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestTOTPStepsAcceptOnce: of 32 concurrent requests with one time step,
// exactly one is accepted; an earlier step is refused afterwards, a later
// one accepted; each user has their own steps.
func TestTOTPStepsAcceptOnce(t *testing.T) {
	t.Parallel()
	url, _ := testenv.Redis(t)
	pool, err := redis.NewPool(url, redis.Options{MaxActive: 32})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.Close() })
	steps := redis.NewTOTPSteps(redis.PoolConns(pool), 2*time.Minute)
	ctx := context.Background()
	user := "u" + t.Name()

	var accepted atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			ok, err := steps.Accept(ctx, user, 1000)
			if err != nil {
				t.Error(err)
			}
			if ok {
				accepted.Add(1)
			}
		})
	}
	wg.Wait()
	if n := accepted.Load(); n != 1 {
		t.Fatalf("%d of 32 requests accepted one step, want 1", n)
	}
	for _, tt := range []struct {
		user string
		step int64
		want bool
	}{{user, 999, false}, {user, 1000, false}, {user, 1001, true}, {"other" + user, 999, true}} {
		if ok, err := steps.Accept(ctx, tt.user, tt.step); err != nil || ok != tt.want {
			t.Errorf("%s step %d: got %v, %v; want %v", tt.user, tt.step, ok, err, tt.want)
		}
	}
}
