// Package redis builds the redigo connection pool Gatehouse keeps its
// sessions in, from a REDIS_URL or through Redis Sentinel, or a Redis
// Cluster client (redisc), with every wait bounded: dialling, each read
// and write, and waiting for a free connection. Conns hands either to the
// code that sends commands on keys.
package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gomodule/redigo/redis"
)

// Options tune the pool.
type Options struct {
	// Timeout bounds dialling and each read and write.
	Timeout time.Duration
	// MaxActive caps open connections; callers beyond it wait (bounded by
	// their context), so that a burst cannot open thousands of sockets.
	MaxActive int
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.MaxActive <= 0 {
		o.MaxActive = 64
	}
	return o
}

// NewPool returns a pool for url (redis:// or rediss://). It does not connect:
// the first Get does.
func NewPool(url string, o Options) (*redis.Pool, error) {
	o = o.withDefaults()
	dialOpts := timeouts(o.Timeout)
	if err := checkURL(url); err != nil {
		return nil, err
	}
	dial := func(ctx context.Context) (redis.Conn, error) {
		return dialLive(ctx, url, o.Timeout, dialOpts)
	}
	return newPool(o, dial, func(ctx context.Context, c *liveConn, idle time.Duration) error {
		// Idle for over a minute, it may have been cut silently by a
		// firewall: check it with a round trip.
		if idle < time.Minute {
			return nil
		}
		_, err := redis.DoContext(c, ctx, "PING")
		return err
	}), nil
}

// newPool returns a pool of up to o.MaxActive connections from dial,
// which must return *liveConn. Lending a connection first drops it if the
// server has closed it (a restart, or the sentinels demoting a master), so
// that a fresh one is dialled rather than a request failing; then check
// runs, with how long the connection was idle.
func newPool(o Options, dial func(context.Context) (redis.Conn, error), check func(ctx context.Context, c *liveConn, idle time.Duration) error) *redis.Pool {
	return &redis.Pool{
		MaxIdle:     o.MaxActive,
		MaxActive:   o.MaxActive,
		Wait:        true,
		IdleTimeout: 5 * time.Minute,
		DialContext: dial,
		TestOnBorrowContext: func(ctx context.Context, c redis.Conn, idleSince time.Time) error {
			lc, ok := c.(*liveConn)
			if !ok {
				return fmt.Errorf("redis pool: unexpected connection type %T", c)
			}
			idle := time.Since(idleSince)
			// Back in the pool a moment ago, it was answering then.
			// Under load nearly every borrow is one of these, and
			// peeking at the socket would cost each a system call.
			if idle >= recentlyUsed && !lc.alive() {
				return errClosedByServer
			}
			return check(ctx, lc, idle)
		},
	}
}

var errNoDial = errors.New("parse only")

// recentlyUsed is how long after its last use a pooled connection is
// trusted without a check. No restart or failover brings Redis back that
// fast, so a request that would find such a connection closed would have
// found Redis down anyway; a connection idle across a restart is checked.
const recentlyUsed = 5 * time.Millisecond

// errBadURL says that a REDIS_URL cannot be used. The driver's own message
// may quote the URL, password included.
var errBadURL = errors.New("REDIS_URL is not a valid redis:// or rediss:// URL")

// checkURL parses url as the driver will, without connecting, so that a bad
// URL fails at start-up rather than on the first request.
func checkURL(url string) error {
	c, err := redis.DialURL(url, redis.DialContextFunc(refuse))
	if err == nil {
		_ = c.Close()
		return nil
	}
	if !errors.Is(err, errNoDial) {
		return errBadURL
	}
	return nil
}

func refuse(context.Context, string, string) (net.Conn, error) { return nil, errNoDial }

// readyKey is the key Ready writes.
const readyKey = "gatehouse:ready"

// Ready checks within timeout that Redis answers and accepts a write: a
// Redis at maxmemory with noeviction, or a read-only replica, answers PING
// and reads while every session write fails. It writes one key that
// expires in ten seconds.
//
// On a Redis Cluster it checks the node that holds readyKey's slot.
func Ready(ctx context.Context, conns Conns, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := conns.Conn(ctx, readyKey)
	if err != nil {
		return Unavailable("ready", err)
	}
	defer c.Close()
	_, err = redis.DoContext(c, ctx, "SET", readyKey, "1", "PX", 10000)
	return Unavailable("ready: write", err)
}

// EvictionPolicy returns Redis's maxmemory-policy, within timeout. A
// policy other than noeviction lets Redis drop keys, sessions among them,
// when it is full. Managed services may refuse CONFIG: the error says so.
// On a Redis Cluster it asks one node.
func EvictionPolicy(ctx context.Context, conns Conns, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := conns.Conn(ctx, readyKey)
	if err != nil {
		return "", Unavailable("config get", err)
	}
	defer c.Close()
	kv, err := redis.Strings(redis.DoContext(c, ctx, "CONFIG", "GET", "maxmemory-policy"))
	if err != nil {
		return "", Unavailable("config get", err)
	}
	if len(kv) != 2 {
		return "", fmt.Errorf("config get maxmemory-policy: %d values, want 2", len(kv))
	}
	return kv[1], nil
}

// SharedSecret returns the 32-byte secret stored under key, creating it
// when absent (SET NX, so that concurrent first calls agree), within
// timeout. Every instance on this Redis then shares it without
// configuration. Whoever can read Redis can read it.
func SharedSecret(ctx context.Context, conns Conns, key string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := conns.Conn(ctx, key)
	if err != nil {
		return nil, Unavailable("shared secret", err)
	}
	defer c.Close()
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	if _, err := redis.DoContext(c, ctx, "SET", key, fresh, "NX"); err != nil {
		return nil, Unavailable("shared secret", err)
	}
	b, err := redis.Bytes(redis.DoContext(c, ctx, "GET", key))
	if err != nil {
		return nil, Unavailable("shared secret", err)
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("shared secret %s: %d bytes, want 32", key, len(b))
	}
	return b, nil
}

// Ping checks that Redis answers within timeout.
func Ping(ctx context.Context, pool *redis.Pool, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := pool.GetContext(ctx)
	if err != nil {
		return Unavailable("ping", err)
	}
	defer c.Close()
	_, err = redis.DoContext(c, ctx, "PING")
	return Unavailable("ping", err)
}
