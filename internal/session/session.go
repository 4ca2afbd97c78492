// Package session sets up scs, the session manager, on Redis.
//
// Sessions are stored by scs/redisstore under the SHA-256 of their token
// (HashTokenInStore), so a copy of the Redis data holds no usable cookie.
// Store wraps redisstore so that every call is bounded in time, and so that
// callers can tell "Redis is unavailable" (ErrUnavailable) from bad data.
package session

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gomodule/redigo/redis"
)

// Sessions stored before Codec were gob-encoded, and gob needs the types
// held behind interfaces registered.
func init() {
	gob.Register(time.Time{})
	gob.Register(&Record{})
}

// ErrUnavailable wraps every error that comes from talking to Redis.
var ErrUnavailable = errors.New("session store unavailable")

// Options configure the manager.
type Options struct {
	// Lifetime is the absolute lifetime of a session that is not
	// remembered. The idle timeout is not scs's: Gatehouse enforces it
	// itself (package web) so that a page view costs one Redis read.
	Lifetime   time.Duration
	CookieName string
	Secure     bool
	// MaxActive must equal the pool's MaxActive; see Store.
	MaxActive int
}

// New returns a session manager storing sessions in pool.
func New(pool *redis.Pool, o Options) *scs.SessionManager {
	sm := scs.New()
	// scs.New also starts a cleanup goroutine for its default memory
	// store, which this replaces. It idles once a minute over an empty
	// map. Stopping it is not safe: memstore's StopCleanup races with the
	// goroutine's start (the race detector shows it), so it is left.
	sm.Store = NewStore(pool, o.MaxActive)
	sm.Codec = Codec{}
	sm.Lifetime = o.Lifetime
	// Zero: scs would otherwise re-save the session and send a cookie on
	// every request.
	sm.IdleTimeout = 0
	sm.HashTokenInStore = true
	sm.Cookie.Name = o.CookieName
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Path = "/"
	sm.Cookie.Secure = o.Secure
	// A browser-session cookie: it goes when the browser closes, while
	// the server-side lifetime and idle timeout still apply.
	sm.Cookie.Persist = false
	return sm
}

// Store is scs/redisstore with bounded waits. redisstore takes connections
// with pool.Get, which waits without limit when the pool is exhausted; Store
// admits at most maxActive calls at once, each waiting for its turn no
// longer than its context allows. Each Redis command is then bounded by the
// pool's read and write timeouts.
type Store struct {
	inner *redisstore.RedisStore
	pool  *redis.Pool
	slots chan struct{}
}

// NewStore returns a Store over pool.
func NewStore(pool *redis.Pool, maxActive int) *Store {
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
		return fmt.Errorf("%w: waiting for a connection: %w", ErrUnavailable, ctx.Err())
	}
}

func (s *Store) release() { <-s.slots }

func wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// FindCtx returns the data stored under token.
func (s *Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, false, err
	}
	defer s.release()
	b, found, err := s.inner.Find(token)
	return b, found, wrap(err)
}

type expiryCapKey struct{}

// WithExpiryCap returns ctx telling CommitCtx to keep the session in Redis
// no later than t: scs only knows a session's absolute deadline, and the
// idle timeout, which Gatehouse enforces itself, ends it sooner.
func WithExpiryCap(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, expiryCapKey{}, t)
}

type loadedKey struct{}

// WithLoadedToken records in ctx that the request loaded the existing
// session token. Saving that session later only updates it if it still
// exists: a session revoked while the request ran stays revoked rather
// than being written back.
func WithLoadedToken(ctx context.Context, token string) context.Context {
	// The raw token: CommitCtx hashes it when it needs to compare, which
	// a page view that saves nothing never does.
	return context.WithValue(ctx, loadedKey{}, token)
}

// updateScript writes a session only if it still exists, with the value
// and expiry redisstore would write. KEYS[1] key. ARGV: data, expiry ms.
var updateScript = redis.NewScript(1, `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
`)

// CommitCtx stores b under token until expiry (or the cap in ctx). A new
// token goes through redisstore; the request's own existing token is only
// updated, never recreated.
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if t, _ := ctx.Value(expiryCapKey{}).(time.Time); !t.IsZero() && t.Before(expiry) {
		expiry = t
	}
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	if loaded, _ := ctx.Value(loadedKey{}).(string); loaded != "" && StoreKey(loaded) == token {
		c, err := s.pool.GetContext(ctx)
		if err != nil {
			return wrap(err)
		}
		defer c.Close()
		_, err = updateScript.DoContext(ctx, c, storePrefix+token, b, expiry.UnixMilli())
		return wrap(err)
	}
	return wrap(s.inner.Commit(token, b, expiry))
}

// DeleteCtx removes token.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	return wrap(s.inner.Delete(token))
}

// Find, Commit and Delete satisfy scs.Store; scs calls the Ctx variants.
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
