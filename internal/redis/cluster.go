package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/mna/redisc"
)

// Cluster is a Redis Cluster, reached through redisc: each connection is
// bound to the node that holds its key's hash slot and follows MOVED and
// ASK redirections, so that it keeps working while slots move and after a
// replica takes over from a failed master.
//
// redisc learns of a new layout from MOVED replies, which a dead master
// never sends: Cluster also asks the cluster for its layout again, at most
// every refreshEvery, whenever a command fails for any reason other than
// a reply from Redis. Requests to the failed master's slots fail (with
// ErrUnavailable, wrapped by the callers) until a replica is promoted.
type Cluster struct {
	rc          *redisc.Cluster
	lastRefresh atomic.Int64 // Unix nanoseconds
	refreshes   sync.WaitGroup
}

// refreshEvery spaces out the layout refreshes that failed commands ask
// for.
const refreshEvery = 100 * time.Millisecond

// redirects bounds the attempts of one command: the first, and the
// redirections it may follow.
const redirects = 3

// NewCluster returns a Redis Cluster client for the seed nodes addrs
// (host:port). url is optional: a REDIS_URL whose user, password and TLS
// (rediss://) apply to every node; its host, port and database are
// ignored (a cluster has only database 0). It does not connect until first
// used. Every wait is bounded by o.Timeout: dialling, each read and write,
// and waiting for one of a node's at most o.MaxActive connections.
func NewCluster(addrs []string, url string, o Options) (*Cluster, error) {
	o = o.withDefaults()
	if len(addrs) == 0 {
		return nil, errors.New("redis cluster: no seed nodes")
	}
	for _, a := range addrs {
		if err := checkHostPort(a); err != nil {
			return nil, fmt.Errorf("redis cluster: address %q: %w", a, err)
		}
	}
	if url == "" {
		url = "redis://"
	}
	base, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	c.rc = &redisc.Cluster{
		StartupNodes: append([]string(nil), addrs...),
		DialOptions:  timeouts(o.Timeout),
		CreatePool: func(addr string, opts ...redis.DialOption) (*redis.Pool, error) {
			u := *base
			u.Host, u.Path = addr, ""
			node := u.String()
			dial := func(ctx context.Context) (redis.Conn, error) {
				return dialLive(ctx, node, o.Timeout, opts)
			}
			return newPool(o, dial, func(context.Context, *liveConn, time.Duration) error { return nil }), nil
		},
		PoolWaitTime: o.Timeout,
	}
	return c, nil
}

// Cluster reports true: keys of different slots live apart.
func (c *Cluster) Cluster() bool { return true }

// Conn returns a connection bound to the node that holds key's slot. It
// supports Do and DoContext, which follow redirections, and Send, Flush
// and Receive for pipelines on that node.
func (c *Cluster) Conn(ctx context.Context, key string) (redis.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conn := c.rc.Get()
	if err := redisc.BindConn(conn, key); err != nil {
		_ = conn.Close()
		c.refresh()
		return nil, err
	}
	retry, err := redisc.RetryConn(conn, redirects, 50*time.Millisecond)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return &clusterConn{Conn: conn, retry: retry, cluster: c}, nil
}

// Nodes calls fn with a connection to each master node the client knows
// of, for commands that concern each node (CONFIG GET, INFO).
func (c *Cluster) Nodes(fn func(addr string, conn redis.Conn) error) error {
	return c.rc.EachNode(false, fn)
}

// Refresh asks the cluster for its layout now.
func (c *Cluster) Refresh() error { return c.rc.Refresh() }

// refresh asks for the layout in the background, at most every
// refreshEvery.
func (c *Cluster) refresh() {
	now := time.Now().UnixNano()
	last := c.lastRefresh.Load()
	if now-last < int64(refreshEvery) || !c.lastRefresh.CompareAndSwap(last, now) {
		return
	}
	c.refreshes.Add(1)
	go func() {
		defer c.refreshes.Done()
		_ = c.rc.Refresh()
	}()
}

// Close waits for a refresh under way and closes every node's pool.
func (c *Cluster) Close() error {
	c.refreshes.Wait()
	return c.rc.Close()
}

// clusterConn is a redisc connection bound to one slot's node. Do goes
// through redisc's RetryConn; Send, Flush and Receive go straight to the
// node.
type clusterConn struct {
	redis.Conn // the bound *redisc.Conn
	retry      redis.Conn
	cluster    *Cluster
}

func (c *clusterConn) Do(cmd string, args ...any) (any, error) {
	var v any
	var err error
	if cmd == "" {
		// Flush and read a pipeline's replies: no redirection to follow.
		v, err = c.Conn.Do(cmd, args...)
	} else {
		v, err = c.retry.Do(cmd, args...)
	}
	if err != nil && !replyError(err) {
		c.cluster.refresh()
	}
	return v, err
}

// DoContext runs the command unless ctx is done. redisc has no context
// support: each attempt is bounded by the dial timeouts instead, and there
// are at most redirects attempts.
func (c *clusterConn) DoContext(ctx context.Context, cmd string, args ...any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.Do(cmd, args...)
}

// ReceiveContext reads a pipelined reply unless ctx is done; the dial
// timeouts bound the wait.
func (c *clusterConn) ReceiveContext(ctx context.Context) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.Receive()
}

var _ redis.ConnWithContext = (*clusterConn)(nil)

// replyError reports whether err is Redis's answer to a command, which
// says nothing about the layout, rather than a failure to get one; a
// CLUSTERDOWN answer counts as a failure.
func replyError(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !strings.HasPrefix(string(re), "CLUSTERDOWN")
}
