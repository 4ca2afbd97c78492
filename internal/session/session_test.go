package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func newPool(t *testing.T, url string) *redigo.Pool {
	t.Helper()
	pool, err := redis.NewPool(url, redis.Options{Timeout: 500 * time.Millisecond, MaxActive: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.Close() })
	return pool
}

func TestStoreRoundTrip(t *testing.T) {
	url, _ := testenv.Redis(t)
	s := NewStore(newPool(t, url), 4)
	ctx := context.Background()
	if err := s.CommitCtx(ctx, "tok", []byte("data"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	b, found, err := s.FindCtx(ctx, "tok")
	if err != nil || !found || string(b) != "data" {
		t.Fatalf("got %q, %v, %v", b, found, err)
	}
	if err := s.DeleteCtx(ctx, "tok"); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.FindCtx(ctx, "tok"); found || err != nil {
		t.Fatalf("after delete: found=%v err=%v", found, err)
	}
}

// TestTokenIsHashedInRedis: a dump of Redis holds no usable cookie value.
func TestTokenIsHashedInRedis(t *testing.T) {
	url, _ := testenv.Redis(t)
	pool := newPool(t, url)
	sm := New(pool, Options{Lifetime: time.Hour, CookieName: "s", MaxActive: 4})
	var token string
	h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "k", "v")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	for _, c := range rec.Result().Cookies() {
		if c.Name == "s" {
			token = c.Value
		}
	}
	if token == "" {
		t.Fatal("no session cookie")
	}
	c := pool.Get()
	defer c.Close()
	keys, err := redigo.Strings(c.Do("KEYS", "*"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(token))
	want := "scs:session:" + base64.RawURLEncoding.EncodeToString(sum[:])
	if len(keys) != 1 || keys[0] != want {
		t.Fatalf("got keys %v, want only %q, the SHA-256 of the token", keys, want)
	}
}

func TestErrorsAreMarkedUnavailable(t *testing.T) {
	srv := testenv.RedisServer(t, "", 0)
	s := NewStore(newPool(t, srv.URL), 4)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, _, err := s.FindCtx(ctx, "x"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Find: got %v, want ErrUnavailable", err)
	}
	if err := s.CommitCtx(ctx, "x", []byte("y"), time.Now().Add(time.Minute)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Commit: got %v, want ErrUnavailable", err)
	}
	if err := s.DeleteCtx(ctx, "x"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Delete: got %v, want ErrUnavailable", err)
	}
}

// TestWaitForSlotIsBounded: when every slot is busy a call gives up at its
// context's deadline rather than queueing for ever inside redigo.
func TestWaitForSlotIsBounded(t *testing.T) {
	url, _ := testenv.Redis(t)
	s := NewStore(newPool(t, url), 1)
	s.slots <- struct{}{} // someone holds the only slot
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := s.FindCtx(ctx, "x")
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("waited %v", d)
	}
	<-s.slots
	if _, _, err := s.FindCtx(context.Background(), "x"); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestCookieSettings(t *testing.T) {
	sm := New(nil, Options{Lifetime: time.Hour, CookieName: "__Host-x", Secure: true})
	c := sm.Cookie
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || !c.Secure || c.Persist || c.Domain != "" || !sm.HashTokenInStore || sm.IdleTimeout != 0 {
		t.Fatalf("got %+v (hash=%v)", c, sm.HashTokenInStore)
	}
}
