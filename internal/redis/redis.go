// Package redis builds the redigo connection pool Gatehouse keeps its
// sessions in, from a REDIS_URL, with every wait bounded: dialling, each
// read and write, and waiting for a free connection.
package redis

import (
	"context"
	"errors"
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

// NewPool returns a pool for url (redis:// or rediss://). It does not connect:
// the first Get does.
func NewPool(url string, o Options) (*redis.Pool, error) {
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.MaxActive <= 0 {
		o.MaxActive = 64
	}
	dialOpts := []redis.DialOption{
		redis.DialConnectTimeout(o.Timeout),
		redis.DialReadTimeout(o.Timeout),
		redis.DialWriteTimeout(o.Timeout),
		redis.DialClientName("gatehouse"),
	}
	// Parse once up front so that a bad URL fails at start-up, not on the
	// first request.
	if c, err := redis.DialURL(url, append(dialOpts, redis.DialContextFunc(refuse))...); err == nil {
		_ = c.Close()
	} else if !errors.Is(err, errNoDial) {
		// The driver's message may quote the URL, password included.
		return nil, errors.New("REDIS_URL is not a valid redis:// or rediss:// URL")
	}
	return &redis.Pool{
		MaxIdle:     o.MaxActive,
		MaxActive:   o.MaxActive,
		Wait:        true,
		IdleTimeout: 5 * time.Minute,
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			return redis.DialURLContext(ctx, url, dialOpts...)
		},
		// A connection idle for over a minute may have been cut by a
		// firewall or a Redis restart: check it before use.
		TestOnBorrow: func(c redis.Conn, idleSince time.Time) error {
			if time.Since(idleSince) < time.Minute {
				return nil
			}
			_, err := c.Do("PING")
			return err
		},
	}, nil
}

var errNoDial = errors.New("parse only")

func refuse(context.Context, string, string) (net.Conn, error) { return nil, errNoDial }

// Ping checks that Redis answers within timeout.
func Ping(ctx context.Context, pool *redis.Pool, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := pool.GetContext(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = redis.DoContext(c, ctx, "PING")
	return err
}
