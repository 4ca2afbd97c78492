package session

import (
	"context"
	"errors"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func newPool(t *testing.T, url string) *redigo.Pool {
	t.Helper()
	pool, err := redis.NewPool(url, redis.Options{Timeout: 500 * time.Millisecond, MaxActive: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.Close() })
	return pool
}

func TestStoreRoundTrip(t *testing.T) {
	t.Parallel()
	url, _ := testenv.Redis(t)
	s := NewStore(newPool(t, url), 4)
	ctx := context.Background()
	if err := s.CommitCtx(ctx, "tok", []byte("data"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	b, found, err := s.FindCtx(ctx, "tok")
	if err != nil || !found || string(b) != "data" {
		t.Fatalf("got %q, %v, %v", b, found, err)
	}
	if err := s.DeleteCtx(ctx, "tok"); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.FindCtx(ctx, "tok"); found || err != nil {
		t.Fatalf("after delete: found=%v err=%v", found, err)
	}
}

func TestErrorsAreMarkedUnavailable(t *testing.T) {
	t.Parallel()
	srv := testenv.RedisServer(t, "", 0)
	s := NewStore(newPool(t, srv.URL), 4)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, _, err := s.FindCtx(ctx, "x"); !errors.Is(err, redis.ErrUnavailable) {
		t.Errorf("Find: got %v, want ErrUnavailable", err)
	}
	if err := s.CommitCtx(ctx, "x", []byte("y"), time.Now().Add(time.Minute)); !errors.Is(err, redis.ErrUnavailable) {
		t.Errorf("Commit: got %v, want ErrUnavailable", err)
	}
	if err := s.DeleteCtx(ctx, "x"); !errors.Is(err, redis.ErrUnavailable) {
		t.Errorf("Delete: got %v, want ErrUnavailable", err)
	}
}

// TestWaitForSlotIsBounded: when every slot is busy a call gives up at its
// context's deadline rather than queueing for ever inside redigo.
func TestWaitForSlotIsBounded(t *testing.T) {
	t.Parallel()
	url, _ := testenv.Redis(t)
	s := NewStore(newPool(t, url), 1)
	s.slots <- struct{}{} // someone holds the only slot
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := s.FindCtx(ctx, "x")
	if !errors.Is(err, redis.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("waited %v", d)
	}
	<-s.slots
	if _, _, err := s.FindCtx(context.Background(), "x"); err != nil {
		t.Fatalf("after release: %v", err)
	}
}
