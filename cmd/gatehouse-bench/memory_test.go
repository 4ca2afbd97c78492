package main

import (
	"context"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestBytesPerSessionBound: 1,000 users with 3 sessions each cost Redis at
// most targetBytes per session, index included, as make bench measures it
// (a size, not a speed), and less than the layout before.
func TestBytesPerSessionBound(t *testing.T) {
	t.Parallel()
	srv := testenv.RedisServer(t, "", 0, "--appendonly", "no")
	ctx := context.Background()
	pool, err := redis.NewPool(srv.URL, redis.Options{Timeout: 5 * time.Second, MaxActive: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.Close() })
	probe, err := dialProbe(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(probe.close)
	pop := newPopulation(1000, 3)
	per := map[string]float64{}
	for name, write := range map[string]func(context.Context, *redigo.Pool, []benchSession) error{"before": writeOld, "now": writeNew} {
		var grew int64
		for range 2 {
			if grew, err = probe.growth(ctx, func() error { return write(ctx, pool, pop) }); err != nil {
				t.Fatal(err)
			}
		}
		per[name] = float64(grew) / float64(len(pop))
	}
	t.Logf("bytes per session: %.0f before, %.0f now", per["before"], per["now"])
	if per["now"] > targetBytes || per["now"] >= per["before"] {
		t.Errorf("%.0f bytes per session, want at most %d and less than the %.0f before", per["now"], targetBytes, per["before"])
	}
}
