package session

import (
	"context"
	"encoding/gob"
	"time"

	"github.com/alexedwards/scs/redisstore"
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

// Store is scs's Redis store (scs/redisstore) with bounded waits, and with
// commits that never bring back a session revoked meanwhile. Sessions are
// kept under "scs:session:" and the SHA-256 of their token (scs's
// HashTokenInStore, which the manager must set).
//
// redisstore takes connections with pool.Get, which waits without limit
// when the pool is exhausted; Store admits at most maxActive calls at once,
// each waiting for its turn no longer than its context allows. Each Redis
// command is then bounded by the pool's read and write timeouts. Every error
// wraps redis.ErrUnavailable.
type Store struct {
	inner *redisstore.RedisStore
	pool  *redigo.Pool
	slots chan struct{}
}

// NewStore returns a Store over pool. maxActive must equal the pool's
// MaxActive (64 when zero).
func NewStore(pool *redigo.Pool, maxActive int) *Store {
	if maxActive <= 0 {
		maxActive = 64
	}
	return &Store{inner: redisstore.NewWithPrefix(pool, storePrefix), pool: pool, slots: make(chan struct{}, maxActive)}
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

// FindCtx returns the data stored under token.
func (s *Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, false, err
	}
	defer s.release()
	b, found, err := s.inner.Find(token)
	return b, found, unavailable(err)
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

// updateScript writes a session only if it still exists, with the value
// and expiry redisstore would write. KEYS[1] key. ARGV: data, expiry ms.
var updateScript = redigo.NewScript(1, `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
`)

// CommitCtx stores b under token (scs passes the token's store key) until
// expiry, or earlier as ctx's CommitHints say. A new token goes through
// redisstore; the request's own loaded token is only updated, never
// recreated.
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	h, _ := ctx.Value(hintsKey{}).(CommitHints)
	if !h.ExpiresAt.IsZero() && h.ExpiresAt.Before(expiry) {
		expiry = h.ExpiresAt
	}
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	// The hint holds the raw token, hashed only here: a page view that
	// saves nothing never pays for the hash.
	if h.LoadedToken != "" && StoreKey(h.LoadedToken) == token {
		c, err := s.pool.GetContext(ctx)
		if err != nil {
			return unavailable(err)
		}
		defer c.Close()
		_, err = updateScript.DoContext(ctx, c, storePrefix+token, b, expiry.UnixMilli())
		return unavailable(err)
	}
	return unavailable(s.inner.Commit(token, b, expiry))
}

// DeleteCtx removes token.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	return unavailable(s.inner.Delete(token))
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
