package redis

import (
	"context"

	"github.com/gomodule/redigo/redis"
)

// Conns hands out connections for commands on keys: from one pool for a
// single Redis (or the master Sentinel names), or, on a Redis Cluster, to
// the node that holds the key's hash slot (Cluster).
//
// A connection from Conn serves commands on key and on keys of the same
// hash slot only. Every Lua script and multi-key command must therefore
// name keys of one slot: callers give a user's keys one {hash tag}.
type Conns interface {
	// Conn returns a connection for commands on key, waiting for one no
	// longer than ctx allows. The caller closes it.
	Conn(ctx context.Context, key string) (redis.Conn, error)
	// Cluster reports whether keys of different hash slots may live on
	// different servers, so that no command or script may span them.
	Cluster() bool
}

// PoolConns serves every key from pool: a single Redis, or the master
// behind Sentinel.
func PoolConns(pool *redis.Pool) Conns { return poolConns{pool} }

type poolConns struct{ pool *redis.Pool }

func (p poolConns) Conn(ctx context.Context, _ string) (redis.Conn, error) {
	return p.pool.GetContext(ctx)
}

func (poolConns) Cluster() bool { return false }
