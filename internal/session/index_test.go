package session

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

// addSession stores scs data under token and indexes it for uid.
func addSession(t *testing.T, pool *redigo.Pool, x *Index, uid, token string, created time.Time, exp time.Time) Info {
	t.Helper()
	id, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	c := pool.Get()
	defer c.Close()
	if _, err := c.Do("SET", storePrefix+StoreKey(token), "data", "PXAT", exp.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	info := Info{ID: id, UserID: uid, Created: created, AuthAt: created, LastSeen: created, ExpiresAt: exp, IP: "192.0.2.1", Device: "Firefox on Linux"}
	if err := x.Add(context.Background(), info, token); err != nil {
		t.Fatal(err)
	}
	return info
}

func exists(t *testing.T, pool *redigo.Pool, key string) bool {
	t.Helper()
	c := pool.Get()
	defer c.Close()
	n, err := redigo.Int(c.Do("EXISTS", key))
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestIndexListRevoke(t *testing.T) {
	t.Parallel()
	url, _ := testenv.Redis(t)
	pool := newPool(t, url)
	clock := &testClock{t: time.Now().Truncate(time.Millisecond)}
	x := NewIndex(pool, clock.now)
	ctx := context.Background()
	hour := time.Hour
	a := addSession(t, pool, x, "u1", "token-a", clock.t.Add(-3*hour), clock.t.Add(hour))
	b := addSession(t, pool, x, "u1", "token-b", clock.t.Add(-2*hour), clock.t.Add(hour))
	c := addSession(t, pool, x, "u1", "token-c", clock.t.Add(-1*hour), clock.t.Add(hour))
	other := addSession(t, pool, x, "u2", "token-o", clock.t, clock.t.Add(hour))

	list, err := x.List(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].ID != c.ID || list[2].ID != a.ID {
		t.Fatalf("got %+v, want c, b, a (newest first)", list)
	}
	if list[0].Device != "Firefox on Linux" || list[0].IP != "192.0.2.1" || !list[0].Created.Equal(c.Created) {
		t.Fatalf("fields lost: %+v", list[0])
	}

	// Another user's session id revokes nothing.
	if ok, err := x.Revoke(ctx, "u1", other.ID); err != nil || ok {
		t.Fatalf("revoking u2's session as u1: got %v, %v", ok, err)
	}
	if !exists(t, pool, storePrefix+StoreKey("token-o")) {
		t.Fatal("u1 deleted u2's session")
	}

	if ok, err := x.Revoke(ctx, "u1", b.ID); err != nil || !ok {
		t.Fatalf("Revoke: got %v, %v", ok, err)
	}
	if exists(t, pool, storePrefix+StoreKey("token-b")) {
		t.Fatal("revoked session's data is still in Redis")
	}
	ids, err := x.RevokeAll(ctx, "u1", c.ID)
	if err != nil || len(ids) != 1 || ids[0] != a.ID {
		t.Fatalf("RevokeAll keeping c: got %v, %v; want [a]", ids, err)
	}
	if !exists(t, pool, storePrefix+StoreKey("token-c")) || exists(t, pool, storePrefix+StoreKey("token-a")) {
		t.Fatal("RevokeAll removed the wrong sessions")
	}
	ids, err = x.RevokeAll(ctx, "u1", "")
	if err != nil || len(ids) != 1 || ids[0] != c.ID {
		t.Fatalf("RevokeAll: got %v, %v; want [c]", ids, err)
	}
	if n, _ := x.Counts(ctx, []string{"u1", "u2"}); len(n) != 2 || n[0] != 0 {
		t.Fatalf("Count after revoking all: %v", n)
	} else if n[1] != 1 {
		t.Fatalf("u2 lost sessions: %d", n[1])
	}
}

// TestIndexPrunesLazily: sessions that expired, or whose data vanished
// (idle expiry in Redis, logout elsewhere), leave the list on its next read.
func TestIndexPrunesLazily(t *testing.T) {
	t.Parallel()
	url, _ := testenv.Redis(t)
	pool := newPool(t, url)
	clock := &testClock{t: time.Now().Truncate(time.Millisecond)}
	x := NewIndex(pool, clock.now)
	ctx := context.Background()
	live := addSession(t, pool, x, "u", "live", clock.t, clock.t.Add(time.Hour))
	addSession(t, pool, x, "u", "soon", clock.t, clock.t.Add(time.Minute))
	addSession(t, pool, x, "u", "vanished", clock.t, clock.t.Add(time.Hour))
	c := pool.Get()
	defer c.Close()
	if _, err := c.Do("DEL", storePrefix+StoreKey("vanished")); err != nil {
		t.Fatal(err)
	}
	clock.t = clock.t.Add(2 * time.Minute)
	list, err := x.List(ctx, "u")
	if err != nil || len(list) != 1 || list[0].ID != live.ID {
		t.Fatalf("got %+v, %v; want only the live session", list, err)
	}
	if n, _ := redigo.Int(c.Do("ZCARD", userKey("u"))); n != 1 {
		t.Fatalf("index still holds %d members", n)
	}
}

// TestIndexCounts: one round trip counts several users' live sessions,
// in the order asked, pruning as List does.
func TestIndexCounts(t *testing.T) {
	t.Parallel()
	url, _ := testenv.Redis(t)
	pool := newPool(t, url)
	clock := &testClock{t: time.Now().Truncate(time.Millisecond)}
	x := NewIndex(pool, clock.now)
	ctx := context.Background()
	addSession(t, pool, x, "a", "a1", clock.t, clock.t.Add(time.Hour))
	addSession(t, pool, x, "a", "a2", clock.t, clock.t.Add(time.Minute))
	addSession(t, pool, x, "b", "b1", clock.t, clock.t.Add(time.Hour))
	addSession(t, pool, x, "b", "b2", clock.t, clock.t.Add(time.Hour))
	addSession(t, pool, x, "b", "b3", clock.t, clock.t.Add(time.Hour))
	c := pool.Get()
	defer c.Close()
	if _, err := c.Do("DEL", storePrefix+StoreKey("b3")); err != nil {
		t.Fatal(err)
	}
	clock.t = clock.t.Add(2 * time.Minute) // a2 has expired
	got, err := x.Counts(ctx, []string{"b", "nobody", "a"})
	if err != nil || !slices.Equal(got, []int{2, 0, 1}) {
		t.Fatalf("got %v, %v; want [2 0 1]", got, err)
	}
	// Once Redis has the script, a count is one EVALSHA.
	testenv.ResetStats(t, c)
	if got, err := x.Counts(ctx, []string{"a", "b"}); err != nil || !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("again: got %v, %v; want [1 2]", got, err)
	}
	calls := testenv.CommandCalls(t, c)
	if calls["evalsha"] != 1 || calls["eval"] != 0 {
		t.Errorf("got %v, want one EVALSHA", calls)
	}
	for _, k := range []string{userKey("a"), userKey("b")} {
		if n, _ := redigo.Int(c.Do("ZCARD", k)); n != map[string]int{userKey("a"): 1, userKey("b"): 2}[k] {
			t.Errorf("%s still holds %d members after pruning", k, n)
		}
	}
}

// TestRevokedSessionIsNotWrittenBack: a request that loaded a session
// before it was revoked cannot resurrect it when it saves.
func TestRevokedSessionIsNotWrittenBack(t *testing.T) {
	t.Parallel()
	url, _ := testenv.Redis(t)
	pool := newPool(t, url)
	s := NewStore(pool, 4)
	ctx := context.Background()
	key := StoreKey("tok")
	exp := time.Now().Add(time.Hour)
	if err := s.CommitCtx(ctx, key, []byte("v1"), exp); err != nil {
		t.Fatal(err)
	}
	reqCtx := WithCommitHints(ctx, CommitHints{LoadedToken: "tok"})
	if err := s.CommitCtx(reqCtx, key, []byte("v2"), exp); err != nil {
		t.Fatal(err)
	}
	if b, _, _ := s.FindCtx(ctx, key); string(b) != "v2" {
		t.Fatalf("update of a live session: got %q, want v2", b)
	}
	if err := s.DeleteCtx(ctx, key); err != nil { // revoked elsewhere
		t.Fatal(err)
	}
	if err := s.CommitCtx(reqCtx, key, []byte("v3"), exp); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.FindCtx(ctx, key); found {
		t.Fatal("a revoked session was written back")
	}
}

func TestExpiryCap(t *testing.T) {
	t.Parallel()
	url, _ := testenv.Redis(t)
	pool := newPool(t, url)
	s := NewStore(pool, 4)
	ctx := WithCommitHints(context.Background(), CommitHints{ExpiresAt: time.Now().Add(time.Minute)})
	if err := s.CommitCtx(ctx, "k", []byte("v"), time.Now().Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	c := pool.Get()
	defer c.Close()
	ttl, err := redigo.Int64(c.Do("PTTL", storePrefix+"k"))
	if err != nil || ttl <= 0 || ttl > time.Minute.Milliseconds() {
		t.Fatalf("got PTTL %d, %v; want at most a minute", ttl, err)
	}
}

func TestDevice(t *testing.T) {
	t.Parallel()
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36":                                       "Chrome on Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126":                     "Edge on Windows",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15":                      "Safari on macOS",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1": "Safari on iOS",
		"Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0":                                                                    "Firefox on Android",
		"curl/8.5.0": "curl",
		"":           "Unknown device",
		"something":  "Unknown browser",
	} {
		if got := Device(ua); got != want {
			t.Errorf("Device(%q) = %q, want %q", ua, got, want)
		}
	}
}

// TestIndexTrim: past max, the least recently seen sessions end.
func TestIndexTrim(t *testing.T) {
	t.Parallel()
	url, _ := testenv.Redis(t)
	pool := newPool(t, url)
	now := time.Now()
	x := NewIndex(pool, func() time.Time { return now })
	s := NewStore(pool, 4)
	ctx := context.Background()
	for i, seen := range []time.Duration{-time.Minute, -3 * time.Minute, -2 * time.Minute, 0} {
		token := fmt.Sprintf("token-%d", i)
		if err := s.CommitCtx(ctx, StoreKey(token), []byte("v"), now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		info := Info{ID: fmt.Sprintf("s%d", i), UserID: "u1", Created: now, AuthAt: now, LastSeen: now.Add(seen), ExpiresAt: now.Add(time.Hour)}
		if err := x.Add(ctx, info, token); err != nil {
			t.Fatal(err)
		}
	}
	// s4 is being signed in: its data is not stored yet.
	info := Info{ID: "s4", UserID: "u1", Created: now, AuthAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
	if err := x.Add(ctx, info, "token-4"); err != nil {
		t.Fatal(err)
	}
	ids, err := x.Trim(ctx, "u1", "s4", 3)
	if err != nil || len(ids) != 2 || ids[0] != "s1" || ids[1] != "s2" {
		t.Fatalf("Trim: got %v, %v; want [s1 s2], the least recently seen", ids, err)
	}
	if exists(t, pool, storePrefix+StoreKey("token-1")) || !exists(t, pool, storePrefix+StoreKey("token-3")) {
		t.Fatal("Trim removed the wrong sessions' data")
	}
	if list, _ := x.List(ctx, "u1"); len(list) != 2 { // s4 has no data yet, so List prunes it
		t.Fatalf("after Trim: %d sessions listed, want s0 and s3", len(list))
	}
	if ids, err := x.Trim(ctx, "u1", "", 2); err != nil || len(ids) != 0 {
		t.Fatalf("Trim within the cap: got %v, %v", ids, err)
	}
}
