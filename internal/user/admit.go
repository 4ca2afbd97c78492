package user

import (
	"context"
	"sync/atomic"
	"time"
)

// Under a login flood most attempts cannot get a hashing slot before
// their queueing time runs out: they end in ErrBusy. Each of them used to
// do its work first (the limiter's Redis script, the user's lookup in
// MongoDB) and then wait: work that only takes CPU from everyone else's
// page views. Admit refuses them before any of it. It counts the password
// checks admitted (waiting for a slot or hashing) and admits no more than
// the slots can finish within the queueing time, at the hashing speed
// measured so far.

// hashTimeWeight is the weight of the newest hash in the moving average
// of hash times: about the last 8 count.
const hashTimeWeight = 8

// Admit reserves a place for one password check in the hashing queue;
// call release when the check is over. When the queue already holds more
// checks than the slots can finish within the queueing time, Admit waits
// out that time (a refused client would otherwise retry at once, and each
// refusal costs a request) and fails with ErrBusy; it fails with the
// context's error if that ends first. Without LimitHashing it admits
// everything.
func (s *Service) Admit(ctx context.Context) (release func(), err error) {
	if s.slots == nil {
		return func() {}, nil
	}
	if n := s.admitted.Add(1); n > s.admitLimit() {
		s.admitted.Add(-1)
		t := time.NewTimer(s.wait)
		defer t.Stop()
		select {
		case <-t.C:
			return nil, ErrBusy
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			s.admitted.Add(-1)
		}
	}, nil
}

// admitLimit is how many checks the slots finish within the queueing
// time, plus those being hashed: unbounded until a hash has been timed.
func (s *Service) admitLimit() int64 {
	avg := time.Duration(s.hashTime.Load())
	if avg <= 0 {
		return 1 << 62
	}
	slots := int64(cap(s.slots))
	return slots + slots*int64(s.wait/avg)
}

// timed wraps a slot's release so that it adds the time the slot was held
// (one hash) to the moving average.
func (s *Service) timed(release func()) func() {
	start := time.Now()
	return func() {
		d := int64(time.Since(start))
		for {
			old := s.hashTime.Load()
			next := d
			if old > 0 {
				next = old + (d-old)/hashTimeWeight
			}
			if s.hashTime.CompareAndSwap(old, next) {
				break
			}
		}
		release()
	}
}
