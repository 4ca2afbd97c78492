package redis

import (
	"context"
	"errors"
	"net"
	"slices"
	"syscall"
	"time"

	"github.com/gomodule/redigo/redis"
)

// errClosedByServer reports a pooled connection that the server has closed,
// typically because Redis restarted.
var errClosedByServer = errors.New("connection closed by the server")

// liveConn is a pooled connection that keeps a handle on its socket, so
// that the pool can tell, when lending it, whether the server has closed it
// in the meantime. Without that check, every connection left idle across a
// Redis restart fails one request.
type liveConn struct {
	redis.Conn
	sock syscall.RawConn // nil when unknown
	// roleChecked is when a Sentinel pool last saw the server say it is
	// the master (sentinel.go). Only the borrower touches it.
	roleChecked time.Time
}

// alive reports whether the server may still be at the other end: false
// only when the socket has seen end-of-file or an error. It does not block
// and costs no round trip.
func (c *liveConn) alive() bool {
	return c.sock == nil || socketAlive(c.sock)
}

// dialLive dials url like redis.DialURLContext with opts, and returns a
// liveConn.
func dialLive(ctx context.Context, url string, timeout time.Duration, opts []redis.DialOption) (redis.Conn, error) {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 5 * time.Minute}
	var sock syscall.RawConn
	dial := redis.DialContextFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := d.DialContext(ctx, network, addr)
		if tc, ok := nc.(*net.TCPConn); ok {
			sock, _ = tc.SyscallConn()
		}
		return nc, err
	})
	c, err := redis.DialURLContext(ctx, url, append(slices.Clip(opts), dial)...)
	if err != nil {
		return nil, err
	}
	return &liveConn{Conn: c, sock: sock}, nil
}

// The driver's optional interfaces, which redis.DoContext and friends
// need, pass through to the wrapped connection.

func (c *liveConn) DoContext(ctx context.Context, cmd string, args ...any) (any, error) {
	return redis.DoContext(c.Conn, ctx, cmd, args...)
}

func (c *liveConn) ReceiveContext(ctx context.Context) (any, error) {
	return redis.ReceiveContext(c.Conn, ctx)
}

func (c *liveConn) DoWithTimeout(d time.Duration, cmd string, args ...any) (any, error) {
	return redis.DoWithTimeout(c.Conn, d, cmd, args...)
}

func (c *liveConn) ReceiveWithTimeout(d time.Duration) (any, error) {
	return redis.ReceiveWithTimeout(c.Conn, d)
}

var (
	_ redis.ConnWithContext = (*liveConn)(nil)
	_ redis.ConnWithTimeout = (*liveConn)(nil)
)
