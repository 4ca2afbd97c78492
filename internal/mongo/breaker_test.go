package mongo

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/user"
)

// TestBreaker: two failures to reach MongoDB open the breaker; then
// operations fail at once, without running, and a background ping, not an
// operation, closes it again when MongoDB answers.
func TestBreaker(t *testing.T) {
	t.Parallel()
	var up atomic.Bool
	var pings atomic.Int32
	b := newBreaker(func(context.Context) error {
		pings.Add(1)
		if up.Load() {
			return nil
		}
		return errors.New("connection refused")
	}, time.Second, nil)
	t.Cleanup(b.close)

	outage := unavailable("find user", errors.New("server selection timeout"))
	for _, err := range []error{user.ErrNotFound, context.Canceled, nil} {
		done, aerr := b.allow("op")
		if aerr != nil {
			t.Fatalf("closed breaker refused an operation: %v", aerr)
		}
		done(err) // none of these says the server is down
	}
	for range tripAfter {
		done, err := b.allow("op")
		if err != nil {
			t.Fatalf("the breaker opened too early: %v", err)
		}
		done(outage)
	}
	if _, err := b.allow("op"); !errors.Is(err, user.ErrUnavailable) {
		t.Fatalf("after %d outages: got %v, want an immediate ErrUnavailable", tripAfter, err)
	}
	up.Store(true)
	deadline := time.Now().Add(5 * time.Second)
	for {
		done, err := b.allow("op")
		if err == nil {
			done(nil)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still open 5 s after MongoDB answered pings (%d pings)", pings.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if pings.Load() == 0 {
		t.Fatal("the breaker closed without a ping")
	}
}
