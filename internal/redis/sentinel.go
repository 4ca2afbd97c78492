package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/FZambia/sentinel"
	"github.com/gomodule/redigo/redis"
)

// Sentinel names a Redis master that Redis Sentinel watches, and the
// sentinels to ask for its address.
type Sentinel struct {
	// Addrs are the sentinels' host:port addresses; at least one. They are
	// used as listed: the pool does not discover further sentinels.
	Addrs []string
	// MasterName is the name the sentinels monitor the master under.
	MasterName string
	// Password authenticates to the sentinels (their requirepass). Optional.
	Password string
}

// NewSentinelPool returns a pool whose connections go to the current master
// of s.MasterName, as the sentinels report it. After a failover, new
// connections go to the promoted replica, and a pooled connection to a
// master that has since been demoted is dropped when it is borrowed: a
// borrow asks the server for its ROLE when the connection's role was last
// checked over roleCheckInterval ago, so that a steady stream of page views
// stays at one round trip each. The sentinels also close every client
// connection of a master they demote, which the pool notices as it does
// after a restart (liveness.go).
//
// url is optional. When set, it is a REDIS_URL whose user, password,
// database and TLS (rediss://) apply to the master; its host and port are
// ignored, since the sentinels name the master. rediss:// also makes the
// sentinel connections use TLS.
//
// Every wait is bounded by o.Timeout: dialling and each read and write, to
// the master and to each sentinel in turn. Asking for the master tries the
// sentinels one after the other, so with every sentinel hung a dial gives up
// after about 2 × o.Timeout per sentinel. Connections to the sentinels are
// not kept: one is opened for each new master connection, which the pool
// makes rarely. The pool does not connect until first used.
func NewSentinelPool(s Sentinel, url string, o Options) (*redis.Pool, error) {
	o = o.withDefaults()
	if len(s.Addrs) == 0 {
		return nil, errors.New("redis sentinel: no sentinel addresses")
	}
	for _, a := range s.Addrs {
		if err := checkHostPort(a); err != nil {
			return nil, fmt.Errorf("redis sentinel: address %q: %w", a, err)
		}
	}
	if s.MasterName == "" {
		return nil, errors.New("redis sentinel: no master name")
	}
	if url == "" {
		url = "redis://"
	}
	master, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	dialOpts := timeouts(o.Timeout)

	sentinelOpts := append(timeouts(o.Timeout),
		redis.DialPassword(s.Password),
		redis.DialUseTLS(master.Scheme == "rediss"),
	)
	sn := &sentinel.Sentinel{
		Addrs:      append([]string(nil), s.Addrs...),
		MasterName: s.MasterName,
		Dial: func(addr string) (redis.Conn, error) {
			return redis.Dial("tcp", addr, sentinelOpts...)
		},
		// The default pool per sentinel waits without a bound when busy
		// and keeps idle connections that would need closing. This one
		// never waits and keeps nothing.
		Pool: func(addr string) *redis.Pool {
			return &redis.Pool{
				MaxIdle: 0,
				Wait:    false,
				Dial:    func() (redis.Conn, error) { return redis.Dial("tcp", addr, sentinelOpts...) },
			}
		},
	}

	dial := func(ctx context.Context) (redis.Conn, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		addr, err := sn.MasterAddr()
		if err != nil {
			return nil, fmt.Errorf("ask the sentinels for master %q: %w", s.MasterName, err)
		}
		u := *master
		u.Host = addr
		c, err := dialLive(ctx, u.String(), o.Timeout, dialOpts)
		if err != nil {
			return nil, fmt.Errorf("dial master %q at %s: %w", s.MasterName, addr, err)
		}
		// The sentinels may still name a master that has just been
		// demoted, or that has not yet finished its promotion.
		if err := checkRole(ctx, c.(*liveConn)); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("master %q at %s: %w", s.MasterName, addr, err)
		}
		return c, nil
	}
	return newPool(o, dial, func(ctx context.Context, c *liveConn, _ time.Duration) error {
		if time.Since(c.roleChecked) < roleCheckInterval {
			return nil
		}
		return checkRole(ctx, c)
	}), nil
}

// checkRole fails unless the server behind c is the master, and records
// when it said so.
func checkRole(ctx context.Context, c *liveConn) error {
	if err := checkMaster(ctx, c); err != nil {
		return err
	}
	c.roleChecked = time.Now()
	return nil
}

// roleCheckInterval is how long a connection's ROLE answer is trusted.
// After a demotion the sentinels did not announce by closing connections
// (an operator's REPLICAOF, say), a connection may reach the old master
// for up to this long: reads still answer, writes fail with READONLY.
const roleCheckInterval = time.Second

// errNotMaster reports a connection to a server that is not (or no longer)
// the master.
var errNotMaster = errors.New("server is not the master")

// checkMaster asks the server behind c for its role and fails unless it is
// "master".
func checkMaster(ctx context.Context, c redis.Conn) error {
	reply, err := redis.Values(redis.DoContext(c, ctx, "ROLE"))
	if err != nil {
		return err
	}
	if len(reply) == 0 {
		return errors.New("empty ROLE reply")
	}
	role, err := redis.String(reply[0], nil)
	if err != nil {
		return err
	}
	if role != "master" {
		return fmt.Errorf("%w (role %s)", errNotMaster, role)
	}
	return nil
}

// timeouts are the dial options that bound every wait on one connection.
func timeouts(d time.Duration) []redis.DialOption {
	return []redis.DialOption{
		redis.DialConnectTimeout(d),
		redis.DialReadTimeout(d),
		redis.DialWriteTimeout(d),
		redis.DialClientName("gatehouse"),
	}
}

// parseURL checks a redis:// or rediss:// URL as the driver reads it and
// returns it parsed. Its errors never quote the URL, which may hold a
// password.
func parseURL(raw string) (*url.URL, error) {
	if err := checkURL(raw); err != nil {
		return nil, err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errBadURL
	}
	return u, nil
}

// checkHostPort accepts host:port with a port from 1 to 65535.
func checkHostPort(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("no host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return errors.New("port must be a number from 1 to 65535")
	}
	return nil
}
