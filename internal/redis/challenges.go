package redis

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
)

// Challenges keeps short-lived, single-use values (WebAuthn ceremony
// states) under random handles. Redis holds only the SHA-256 of a handle,
// as the key; Take reads and deletes it with GETDEL, one command on one
// key, so it works unchanged on a Redis Cluster and two requests with the
// same handle cannot both get the value.
type Challenges struct {
	conns  Conns
	prefix string
	now    func() time.Time
}

// NewChallenges returns a store whose keys start with prefix.
func NewChallenges(conns Conns, prefix string, now func() time.Time) *Challenges {
	if now == nil {
		now = time.Now
	}
	return &Challenges{conns: conns, prefix: prefix, now: now}
}

func (c *Challenges) key(handle string) string {
	sum := sha256.Sum256([]byte(handle))
	return c.prefix + hex.EncodeToString(sum[:])
}

// Put stores data (at most 8 KiB) for ttl and returns its handle: 32
// random bytes in unpadded base64url. The expiry is also written in the
// value and checked by Take, for servers that do not expire keys on time.
func (c *Challenges) Put(ctx context.Context, data []byte, ttl time.Duration) (string, error) {
	if len(data) > 8<<10 || ttl < time.Millisecond {
		return "", errors.New("challenge: value too large or ttl too short")
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	handle := base64.RawURLEncoding.EncodeToString(b)
	k := c.key(handle)
	value := append([]byte(strconv.FormatInt(c.now().Add(ttl).UnixMilli(), 10)+"\n"), data...)
	conn, err := c.conns.Conn(ctx, k)
	if err != nil {
		return "", Unavailable("put challenge", err)
	}
	defer conn.Close()
	if _, err := redis.DoContext(conn, ctx, "SET", k, value, "PX", ttl.Milliseconds()); err != nil {
		return "", Unavailable("put challenge", err)
	}
	return handle, nil
}

// Take returns the value under handle and deletes it; nil, and no error,
// when there is none (unknown, expired or taken already).
func (c *Challenges) Take(ctx context.Context, handle string) ([]byte, error) {
	if handle == "" || len(handle) > 128 {
		return nil, nil
	}
	k := c.key(handle)
	conn, err := c.conns.Conn(ctx, k)
	if err != nil {
		return nil, Unavailable("take challenge", err)
	}
	defer conn.Close()
	v, err := redis.Bytes(redis.DoContext(conn, ctx, "GETDEL", k))
	if errors.Is(err, redis.ErrNil) {
		return nil, nil
	}
	if err != nil {
		return nil, Unavailable("take challenge", err)
	}
	exp, data, ok := strings.Cut(string(v), "\n")
	ms, perr := strconv.ParseInt(exp, 10, 64)
	if !ok || perr != nil || !c.now().Before(time.UnixMilli(ms)) {
		return nil, nil
	}
	return []byte(data), nil
}
