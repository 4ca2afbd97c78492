package web

import (
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestTokenIsHashedInRedis: a dump of Redis holds no usable cookie value.
func TestTokenIsHashedInRedis(t *testing.T) {
	t.Parallel()
	url, _ := testenv.Redis(t)
	pool, err := redis.NewPool(url, redis.Options{Timeout: 500 * time.Millisecond, MaxActive: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.Close() })
	sm := newSessionManager(session.NewStore(pool, 4), Cookie{Name: "s"}, session.Policy{Lifetime: time.Hour})
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
	want := "s" + string(sum[:27])
	if len(keys) != 1 || keys[0] != want || want != session.DataKey(token) {
		t.Fatalf("got keys %q, want only %q, from the SHA-256 of the token", keys, want)
	}
}

func TestCookieSettings(t *testing.T) {
	t.Parallel()
	sm := newSessionManager(nil, Cookie{Name: "__Host-x", Secure: true}, session.Policy{Lifetime: time.Hour})
	c := sm.Cookie
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || !c.Secure || c.Persist || c.Domain != "" || !sm.HashTokenInStore || sm.IdleTimeout != 0 {
		t.Fatalf("got %+v (hash=%v)", c, sm.HashTokenInStore)
	}
}
