package mongo

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/gatehouse/gatehouse/internal/user"
)

// Circuit breaker settings: tripAfter operations in a row that cannot reach
// MongoDB open the breaker; then every probeEvery a ping checks whether it
// is back.
const (
	tripAfter  = 2
	probeEvery = 500 * time.Millisecond
)

// errDown is why an operation was refused while the breaker is open.
var errDown = errors.New("mongodb is down (circuit breaker open)")

// breaker fails operations at once while MongoDB is known to be down, so
// that each does not wait MONGO_TIMEOUT for its own 503 (sony/gobreaker).
// It opens after tripAfter operations in a row fail to reach the server;
// a person's request is never the probe that tests whether it is back: a
// ping in the background is, every probeEvery, and the first that succeeds
// closes the breaker. Errors that say nothing about the server (not found,
// a duplicate, the caller giving up) do not count.
type breaker struct {
	cb      *gobreaker.TwoStepCircuitBreaker[struct{}]
	ping    func(context.Context) error
	timeout time.Duration
	logger  *slog.Logger

	mu      sync.Mutex
	probing bool
	stop    chan struct{}
}

func newBreaker(ping func(context.Context) error, timeout time.Duration, logger *slog.Logger) *breaker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b := &breaker{ping: ping, timeout: timeout, logger: logger, stop: make(chan struct{})}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "mongodb",
		MaxRequests: 1,
		Timeout:     probeEvery,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= tripAfter },
		IsSuccessful: func(err error) bool {
			return err == nil || !errors.Is(err, user.ErrUnavailable)
		},
		IsExcluded: func(err error) bool {
			return errors.Is(err, context.Canceled)
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			switch to {
			case gobreaker.StateOpen:
				if from == gobreaker.StateClosed {
					b.logger.Error("mongodb unreachable: failing operations at once until a ping succeeds")
				}
				b.startProbing()
			case gobreaker.StateClosed:
				b.logger.Info("mongodb reachable again")
			}
		},
	})
	return b
}

// allow admits an operation named op while the breaker is closed; done
// reports its outcome. Otherwise it returns an error wrapping
// user.ErrUnavailable at once.
func (b *breaker) allow(op string) (done func(error), err error) {
	if b.cb.State() != gobreaker.StateClosed {
		return nil, unavailable(op, errDown)
	}
	done, err = b.cb.Allow()
	if err != nil {
		return nil, unavailable(op, errDown)
	}
	return done, nil
}

// startProbing starts the background ping unless it runs.
func (b *breaker) startProbing() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.probing {
		return
	}
	b.probing = true
	go b.probe()
}

// probe pings MongoDB every probeEvery while the breaker is not closed. In
// the half-open state its ping is the one operation let through.
func (b *breaker) probe() {
	defer func() {
		b.mu.Lock()
		b.probing = false
		b.mu.Unlock()
	}()
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		if b.cb.State() == gobreaker.StateClosed {
			return
		}
		done, err := b.cb.Allow()
		if err != nil {
			continue // still open
		}
		ctx, cancel := context.WithTimeout(context.Background(), min(b.timeout, time.Second))
		err = b.ping(ctx)
		cancel()
		if err != nil {
			err = unavailable("ping", err)
		}
		done(err)
	}
}

// close stops the background ping.
func (b *breaker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
}
