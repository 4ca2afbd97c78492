package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/gob"
	"time"

	"github.com/alexedwards/scs/v2"
	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/redis"
)

// Sessions stored before Codec were gob-encoded, and gob needs the types
// held behind interfaces registered.
func init() {
	gob.Register(time.Time{})
	gob.Register(&Record{})
}

// Keys of session data. Every key holds only hashes of tokens, never a
// token.
//
// A session's data lives under dataPrefix and the first dataHashLen bytes
// of the SHA-256 of its token, in binary: 28 bytes, which Redis keeps in
// its 32-byte size class (the whole hash, base64url-encoded after
// "scs:session:" as before, took 64). 216 bits of SHA-256 are as far out
// of reach as 256: finding a token for a stored key means inverting them,
// and two live tokens share a key once in 2^108 pairs. The key is found
// from the cookie alone, so on a Redis Cluster a page view goes straight to
// the node that holds it.
//
// Sessions stored before, under legacyDataPrefix and the whole hash in
// base64url, are still read and deleted (not on a cluster, where there are
// none); writing one moves it to its new key.
const (
	dataPrefix       = "s"
	dataHashLen      = 27
	legacyDataPrefix = "scs:session:"
)

// StoreKey is the scs store key of token, as scs computes it with
// HashTokenInStore: its SHA-256 in base64url.
func StoreKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// DataKey is the Redis key that holds the data of the session whose
// cookie is token.
func DataKey(token string) string { return dataKey(StoreKey(token)) }

// DataKeyPattern matches every DataKey in KEYS and SCAN, for tests and
// tools.
const DataKeyPattern = dataPrefix + "???????????????????????????"

// storeHash returns the SHA-256 that scs's store key k encodes, or, for a
// key that is not one (a Store used without HashTokenInStore), the
// SHA-256 of k itself.
func storeHash(k string) []byte {
	if b, err := base64.RawURLEncoding.DecodeString(k); err == nil && len(b) == sha256.Size {
		return b
	}
	sum := sha256.Sum256([]byte(k))
	return sum[:]
}

// dataKey returns the Redis key of scs's store key k.
func dataKey(k string) string { return dataPrefix + string(storeHash(k)[:dataHashLen]) }

// legacyDataKey returns where k was kept before dataKey.
func legacyDataKey(k string) string {
	return legacyDataPrefix + base64.RawURLEncoding.EncodeToString(storeHash(k))
}

// Store is Gatehouse's scs store on Redis: single-key commands on the key
// dataKey derives from the token, so that it works alike on one Redis,
// behind Sentinel and on a Redis Cluster, and commits that never bring
// back a session revoked meanwhile. The manager must set HashTokenInStore.
//
// Store admits at most maxActive calls at once, each waiting for its turn
// no longer than its context allows; each Redis command is then bounded by
// the connections' read and write timeouts. Every error wraps
// redis.ErrUnavailable.
type Store struct {
	conns redis.Conns
	// legacy: also read (and delete) sessions under legacyDataKey.
	legacy bool
	slots  chan struct{}
}

// NewStore returns a Store on pool. maxActive must equal the pool's
// MaxActive (64 when zero).
func NewStore(pool *redigo.Pool, maxActive int) *Store {
	return NewStoreOn(redis.PoolConns(pool), maxActive)
}

// NewStoreOn returns a Store on conns, which may be a Redis Cluster.
// maxActive bounds the calls at once (64 when zero).
func NewStoreOn(conns redis.Conns, maxActive int) *Store {
	if maxActive <= 0 {
		maxActive = 64
	}
	return &Store{conns: conns, legacy: !conns.Cluster(), slots: make(chan struct{}, maxActive)}
}

// acquireWait bounds the wait for a slot when the caller has no deadline.
const acquireWait = 2 * time.Second

func (s *Store) acquire(ctx context.Context) error {
	// The usual case, a free slot, needs no timer.
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, acquireWait)
		defer cancel()
	}
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return redis.Unavailable("session store: waiting for a connection", ctx.Err())
	}
}

func (s *Store) release() { <-s.slots }

func unavailable(err error) error { return redis.Unavailable("session store", err) }

// conn acquires a slot and a connection for key; done releases both.
func (s *Store) conn(ctx context.Context, key string) (c redigo.Conn, done func(), err error) {
	if err := s.acquire(ctx); err != nil {
		return nil, nil, err
	}
	c, err = s.conns.Conn(ctx, key)
	if err != nil {
		s.release()
		return nil, nil, unavailable(err)
	}
	return c, func() { _ = c.Close(); s.release() }, nil
}

// FindCtx returns the data stored under token (scs passes its store key):
// one GET, and a second for a token it does not know, at the old key.
func (s *Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	k := dataKey(token)
	c, done, err := s.conn(ctx, k)
	if err != nil {
		return nil, false, err
	}
	defer done()
	b, err := redigo.Bytes(redigo.DoContext(c, ctx, "GET", k))
	if err == redigo.ErrNil && s.legacy {
		b, err = redigo.Bytes(redigo.DoContext(c, ctx, "GET", legacyDataKey(token)))
	}
	if err == redigo.ErrNil {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, unavailable(err)
	}
	if why, ok := tombstoneReason(b); ok {
		if n, _ := ctx.Value(endNoteKey{}).(*EndNote); n != nil {
			n.Reason = why
		}
		return nil, false, nil
	}
	return b, true, nil
}

// CommitHints are what a commit needs to know beyond scs's arguments (the
// token, the data and scs's absolute deadline). scs's CtxStore interface
// gives a store nothing but the context to learn more from, so they travel
// in it, as one value (WithCommitHints).
type CommitHints struct {
	// LoadedToken is the token the request loaded its session with ("" for
	// a new session). A commit under that token only updates a session
	// that still exists: one revoked while the request ran stays revoked
	// rather than being written back.
	LoadedToken string
	// ExpiresAt, when not zero, caps how long the data is kept: scs knows
	// only the absolute deadline, while the idle timeout (Policy), which
	// Gatehouse enforces itself, may end the session sooner.
	ExpiresAt time.Time
}

type hintsKey struct{}

// WithCommitHints returns ctx carrying h for Store.CommitCtx.
func WithCommitHints(ctx context.Context, h CommitHints) context.Context {
	return context.WithValue(ctx, hintsKey{}, h)
}

// updateScript writes a session only if it still exists (a tombstone is
// not a session), at its new key, moving it there from the old one.
// KEYS[1] the key, KEYS[2] (optional) the old key. ARGV: data, expiry ms.
var updateScript = redigo.NewScript(-1, `
local function live(k)
  local n = redis.call('STRLEN', k)
  return n > 0 and not (n == 2 and redis.call('GETRANGE', k, 0, 0) == '\0')
end
if not live(KEYS[1]) then
  if #KEYS < 2 or not live(KEYS[2]) then return 0 end
  redis.call('DEL', KEYS[2])
end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
return 1
`)

// CommitCtx stores b under token (scs passes the token's store key) until
// expiry, or earlier as ctx's CommitHints say. The request's own loaded
// token is only updated, never recreated.
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	h, _ := ctx.Value(hintsKey{}).(CommitHints)
	if !h.ExpiresAt.IsZero() && h.ExpiresAt.Before(expiry) {
		expiry = h.ExpiresAt
	}
	k := dataKey(token)
	c, done, err := s.conn(ctx, k)
	if err != nil {
		return err
	}
	defer done()
	// The hint holds the raw token, hashed only here: a page view that
	// saves nothing never pays for the hash.
	if h.LoadedToken != "" && StoreKey(h.LoadedToken) == token {
		args := []any{1, k}
		if s.legacy {
			args = []any{2, k, legacyDataKey(token)}
		}
		_, err = updateScript.DoContext(ctx, c, append(args, b, expiry.UnixMilli())...)
		return unavailable(err)
	}
	_, err = redigo.DoContext(c, ctx, "SET", k, b, "PXAT", expiry.UnixMilli())
	return unavailable(err)
}

// DeleteCtx removes token's data.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	k := dataKey(token)
	c, done, err := s.conn(ctx, k)
	if err != nil {
		return err
	}
	defer done()
	args := []any{k}
	if s.legacy {
		args = append(args, legacyDataKey(token))
	}
	_, err = redigo.DoContext(c, ctx, "DEL", args...)
	return unavailable(err)
}

// Find implements scs.Store; scs calls the Ctx variants.
func (s *Store) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit implements scs.Store.
func (s *Store) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete implements scs.Store.
func (s *Store) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

var _ scs.CtxStore = (*Store)(nil)
