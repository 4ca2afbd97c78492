package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"
)

// WindowCounter counts events per key in fixed windows shared by every app
// instance, one round trip per event. Gatehouse counts requests carrying
// unknown session cookies per IP with it, to slow down token guessing.
type WindowCounter struct {
	conns  Conns
	prefix string
	window time.Duration
}

// NewWindowCounter returns a counter whose keys start with prefix.
func NewWindowCounter(conns Conns, prefix string, window time.Duration) *WindowCounter {
	return &WindowCounter{conns: conns, prefix: prefix, window: window}
}

// Window is the length of a counting window.
func (w *WindowCounter) Window() time.Duration { return w.window }

// Incr adds one event for key and returns the count in the current window.
// The window starts with the first event (INCR, then PEXPIRE NX).
func (w *WindowCounter) Incr(ctx context.Context, key string) (int64, error) {
	k := w.prefix + key
	c, err := w.conns.Conn(ctx, k)
	if err != nil {
		return 0, Unavailable("counter", err)
	}
	defer c.Close()
	_ = c.Send("MULTI")
	_ = c.Send("INCR", k)
	_ = c.Send("PEXPIRE", k, w.window.Milliseconds(), "NX")
	res, err := redis.Values(redis.DoContext(c, ctx, "EXEC"))
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("%d replies to EXEC, want 2", len(res))
	}
	if err != nil {
		return 0, Unavailable("counter", err)
	}
	n, err := redis.Int64(res[0], nil)
	if err != nil {
		return 0, Unavailable("counter", err)
	}
	return n, nil
}
