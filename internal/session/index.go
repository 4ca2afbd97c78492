package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/redis"
)

// storePrefix is where scs/redisstore keeps session data.
const storePrefix = "scs:session:"

// Index keys. Every key holds only ids, times and hashed tokens.
func userKey(userID string) string { return "gatehouse:user:" + userID + ":sessions" }
func metaKey(sid string) string    { return "gatehouse:session:" + sid }

// Info describes one session of a user, as the index records it.
type Info struct {
	ID        string    // public session id: random, not the token
	UserID    string    //
	Created   time.Time // when the session was created (sign-in)
	AuthAt    time.Time // last authentication with the password
	LastSeen  time.Time // updated at most once per touch interval
	ExpiresAt time.Time // when it ends unless used again
	IP        string
	Device    string // "Chrome on Linux"
	Remember  bool
}

// Index keeps, per user, the list of their sessions: a sorted set of public
// session ids scored by expiry, and a hash per session. It makes listing and
// revoking cost O(sessions of the user) without scanning the keyspace.
//
// The hash stores the session's key in the scs store (the SHA-256 of its
// token, never the token), so that revoking deletes the session itself:
// the next request with that cookie, on any instance, finds nothing.
type Index struct {
	pool *redigo.Pool
	now  func() time.Time
}

// NewIndex returns an index on pool.
func NewIndex(pool *redigo.Pool, now func() time.Time) *Index {
	return &Index{pool: pool, now: now}
}

// NewID returns a new public session id.
func NewID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// StoreKey is the scs store key of token, as scs computes it with
// HashTokenInStore.
func StoreKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func (x *Index) conn(ctx context.Context) (redigo.Conn, error) {
	c, err := x.pool.GetContext(ctx)
	if err != nil {
		return nil, redis.Unavailable("session index", err)
	}
	return c, nil
}

// Add records a new session of info.UserID whose scs token is token.
func (x *Index) Add(ctx context.Context, info Info, token string) error {
	c, err := x.conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	uk, mk := userKey(info.UserID), metaKey(info.ID)
	exp := ms(info.ExpiresAt)
	_ = c.Send("MULTI")
	_ = c.Send("HSET", mk,
		"uid", info.UserID, "key", StoreKey(token),
		"created", ms(info.Created), "auth", ms(info.AuthAt), "seen", ms(info.LastSeen),
		"ip", info.IP, "device", info.Device, "remember", boolInt(info.Remember))
	_ = c.Send("PEXPIREAT", mk, exp)
	_ = c.Send("ZADD", uk, exp, info.ID)
	// The set lives as long as its longest session: NX sets a first
	// expiry, GT only ever extends it.
	_ = c.Send("PEXPIREAT", uk, exp, "NX")
	_ = c.Send("PEXPIREAT", uk, exp, "GT")
	_, err = redigo.DoContext(c, ctx, "EXEC")
	return redis.Unavailable("session index", err)
}

// Touch records that the session was seen at seen and now expires at exp.
func (x *Index) Touch(ctx context.Context, userID, sid string, seen, exp time.Time) error {
	c, err := x.conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	uk, mk := userKey(userID), metaKey(sid)
	_ = c.Send("MULTI")
	_ = c.Send("HSET", mk, "seen", ms(seen))
	_ = c.Send("PEXPIREAT", mk, ms(exp))
	_ = c.Send("ZADD", uk, "XX", ms(exp), sid)
	_ = c.Send("PEXPIREAT", uk, ms(exp), "GT")
	_, err = redigo.DoContext(c, ctx, "EXEC")
	return redis.Unavailable("session index", err)
}

// SetToken points sid at a new scs token after RenewToken, with a new
// authentication time when authAt is not zero.
func (x *Index) SetToken(ctx context.Context, sid, token string, authAt time.Time) error {
	c, err := x.conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	args := []any{metaKey(sid), "key", StoreKey(token)}
	if !authAt.IsZero() {
		args = append(args, "auth", ms(authAt))
	}
	_, err = redigo.DoContext(c, ctx, "HSET", args...)
	return redis.Unavailable("session index", err)
}

// listScript prunes the user's expired or vanished sessions and returns the
// rest: for each, the id followed by its hash fields.
// KEYS[1] user set. ARGV: now_ms, store prefix, meta prefix.
var listScript = redigo.NewScript(1, `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for _, id in ipairs(ids) do
  local mk = ARGV[3] .. id
  local key = redis.call('HGET', mk, 'key')
  if (not key) or redis.call('EXISTS', ARGV[2] .. key) == 0 then
    redis.call('ZREM', KEYS[1], id)
    redis.call('DEL', mk)
  else
    table.insert(out, id)
    table.insert(out, redis.call('HGETALL', mk))
  end
end
return out
`)

// List returns the user's live sessions, newest first, pruning the rest,
// in one round trip.
func (x *Index) List(ctx context.Context, userID string) ([]Info, error) {
	c, err := x.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	vals, err := redigo.Values(listScript.DoContext(ctx, c, userKey(userID), ms(x.now()), storePrefix, "gatehouse:session:"))
	if err != nil {
		return nil, redis.Unavailable("session index", err)
	}
	var out []Info
	for i := 0; i+1 < len(vals); i += 2 {
		id, _ := redigo.String(vals[i], nil)
		fields, _ := redigo.StringMap(vals[i+1], nil)
		out = append(out, infoFrom(id, fields))
	}
	slices.SortFunc(out, func(a, b Info) int { return b.Created.Compare(a.Created) }) // newest first
	return out, nil
}

func infoFrom(id string, f map[string]string) Info {
	t := func(k string) time.Time {
		n, err := strconv.ParseInt(f[k], 10, 64)
		if err != nil || n == 0 {
			return time.Time{}
		}
		return time.UnixMilli(n).UTC()
	}
	return Info{
		ID: id, UserID: f["uid"], Created: t("created"), AuthAt: t("auth"), LastSeen: t("seen"),
		IP: f["ip"], Device: f["device"], Remember: f["remember"] == "1",
	}
}

// revokeScript deletes sessions of a user: one (ARGV[3] = id), or all but
// one (ARGV[3] = "", ARGV[4] = id to keep). A session hash that belongs to
// another user is left alone, so an id from elsewhere revokes nothing. It
// returns the ids revoked. KEYS[1] user set. ARGV: store prefix, meta
// prefix, only, except, user id.
var revokeScript = redigo.NewScript(1, `
local ids
if ARGV[3] ~= '' then ids = {ARGV[3]} else ids = redis.call('ZRANGE', KEYS[1], 0, -1) end
local out = {}
for _, id in ipairs(ids) do
  if id ~= ARGV[4] then
    local mk = ARGV[2] .. id
    local f = redis.call('HMGET', mk, 'uid', 'key')
    local removed = redis.call('ZREM', KEYS[1], id)
    if f[1] == ARGV[5] then
      if f[2] then redis.call('DEL', ARGV[1] .. f[2]) end
      redis.call('DEL', mk)
      table.insert(out, id)
    elseif removed == 1 then
      table.insert(out, id)
    end
  end
end
return out
`)

// Revoke ends the user's session sid: its data is deleted, so its cookie is
// anonymous from the next request on, on every instance. It reports whether
// such a session existed. One round trip.
func (x *Index) Revoke(ctx context.Context, userID, sid string) (bool, error) {
	ids, err := x.revoke(ctx, userID, sid, "")
	return len(ids) > 0, err
}

// RevokeAll ends every session of the user except keep ("" for none) and
// returns the ids it ended. One round trip.
func (x *Index) RevokeAll(ctx context.Context, userID, keep string) ([]string, error) {
	return x.revoke(ctx, userID, "", keep)
}

func (x *Index) revoke(ctx context.Context, userID, only, keep string) ([]string, error) {
	if only == "" && keep == "" {
		keep = "\x00" // no id is empty; never matches
	}
	c, err := x.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ids, err := redigo.Strings(revokeScript.DoContext(ctx, c, userKey(userID), storePrefix, "gatehouse:session:", only, keep, userID))
	if err != nil {
		return nil, redis.Unavailable("session index", err)
	}
	return ids, nil
}

// Remove forgets sid after its session was destroyed (logout).
func (x *Index) Remove(ctx context.Context, userID, sid string) error {
	_, err := x.Revoke(ctx, userID, sid)
	return err
}

// countScript prunes, as listScript does, the expired or vanished
// sessions of each user and returns how many each has left.
// KEYS: user sets. ARGV: now_ms, store prefix, meta prefix.
var countScript = redigo.NewScript(-1, `
local out = {}
for i, uk in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', uk, '-inf', ARGV[1])
  local n = 0
  for _, id in ipairs(redis.call('ZRANGE', uk, 0, -1)) do
    local mk = ARGV[3] .. id
    local key = redis.call('HGET', mk, 'key')
    if (not key) or redis.call('EXISTS', ARGV[2] .. key) == 0 then
      redis.call('ZREM', uk, id)
      redis.call('DEL', mk)
    else
      n = n + 1
    end
  end
  out[i] = n
end
return out
`)

// Counts returns how many live sessions each of the users has, pruning
// the rest, in one round trip.
func (x *Index) Counts(ctx context.Context, userIDs []string) ([]int, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	c, err := x.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	args := make([]any, 0, 1+len(userIDs)+3)
	args = append(args, len(userIDs))
	for _, id := range userIDs {
		args = append(args, userKey(id))
	}
	args = append(args, ms(x.now()), storePrefix, "gatehouse:session:")
	n, err := redigo.Ints(countScript.DoContext(ctx, c, args...))
	if err != nil {
		return nil, redis.Unavailable("session index", err)
	}
	if len(n) != len(userIDs) {
		return nil, redis.Unavailable("session index", fmt.Errorf("count: %d answers for %d users", len(n), len(userIDs)))
	}
	return n, nil
}

// trimScript ends the user's least recently seen sessions beyond ARGV[1],
// deleting their data as revokeScript does, after pruning the expired or
// vanished ones as listScript does, and returns the ids it ended. The
// session ARGV[6] is kept whatever its data: it is being signed in, and
// its data is stored when the response goes out.
// KEYS[1] user set. ARGV: max, now_ms, store prefix, meta prefix, user id,
// id to keep.
var trimScript = redigo.NewScript(1, `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local max = tonumber(ARGV[1])
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
if #ids <= max then return {} end
local live = {}
for _, id in ipairs(ids) do
  local mk = ARGV[4] .. id
  local f = redis.call('HMGET', mk, 'seen', 'key', 'uid')
  if id == ARGV[6] then
    table.insert(live, {id, math.huge, f[2]})
  elseif f[2] and f[3] == ARGV[5] and redis.call('EXISTS', ARGV[3] .. f[2]) == 1 then
    table.insert(live, {id, tonumber(f[1]) or 0, f[2]})
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('DEL', mk)
  end
end
if #live <= max then return {} end
table.sort(live, function(a, b) return a[2] < b[2] end)
local out = {}
for i = 1, #live - max do
  local s = live[i]
  redis.call('DEL', ARGV[3] .. s[3])
  redis.call('DEL', ARGV[4] .. s[1])
  redis.call('ZREM', KEYS[1], s[1])
  table.insert(out, s[1])
end
return out
`)

// Trim ends the user's least recently seen sessions beyond max, never
// keep (the session being signed in), and returns their ids. One round
// trip, O(the user's sessions).
func (x *Index) Trim(ctx context.Context, userID, keep string, max int) ([]string, error) {
	c, err := x.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ids, err := redigo.Strings(trimScript.DoContext(ctx, c, userKey(userID), max, ms(x.now()), storePrefix, "gatehouse:session:", userID, keep))
	if err != nil {
		return nil, redis.Unavailable("session index", err)
	}
	return ids, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
