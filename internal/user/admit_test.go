package user

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestAdmitBoundsTheQueue: with one slot, a 100 ms queueing time and
// hashes measured at 50 ms, the queue takes the check being hashed and two
// waiting; a fourth waits out the queueing time and gets ErrBusy, and a
// release makes room again.
func TestAdmitBoundsTheQueue(t *testing.T) {
	t.Parallel()
	s := (&Service{}).LimitHashing(1, 100*time.Millisecond)
	ctx := context.Background()
	// Before any hash is timed, everything is admitted.
	for range 10 {
		release, err := s.Admit(ctx)
		if err != nil {
			t.Fatalf("before a hash was timed: %v", err)
		}
		defer release()
	}
	s = (&Service{}).LimitHashing(1, 100*time.Millisecond)
	s.hashTime.Store(int64(50 * time.Millisecond))
	var releases []func()
	for i := range 3 {
		release, err := s.Admit(ctx)
		if err != nil {
			t.Fatalf("check %d of 3: %v", i+1, err)
		}
		releases = append(releases, release)
	}
	start := time.Now()
	if _, err := s.Admit(ctx); !errors.Is(err, ErrBusy) {
		t.Fatalf("a fourth check: got %v, want ErrBusy", err)
	}
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("the refusal came after %v, before the queueing time: a refused client would retry at once", waited)
	}
	releases[0]()
	releases[0]() // a second call changes nothing
	release, err := s.Admit(ctx)
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	defer release()
	if _, err := s.Admit(ctx); !errors.Is(err, ErrBusy) {
		t.Fatal("a double release made room twice")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Admit(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled request: got %v", err)
	}
}

// TestHashTimeAverage: the slots time what they hold, and the average
// follows.
func TestHashTimeAverage(t *testing.T) {
	t.Parallel()
	s := (&Service{}).LimitHashing(1, time.Second)
	release, err := s.slot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	release()
	if got := time.Duration(s.hashTime.Load()); got < 20*time.Millisecond || got > time.Second {
		t.Fatalf("after one 20 ms hold: average %v", got)
	}
	if lim := s.admitLimit(); lim < 2 || lim > 51 {
		t.Fatalf("limit %d with one slot, 1 s of queue and about 20 ms a hash", lim)
	}
}
