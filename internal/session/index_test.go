package session

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/user"
)

type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

// addSession signs a session of uid in as web does: its record, holding
// its facts, under its token, and its id in the index.
func addSession(t *testing.T, pool *redigo.Pool, x *Index, uid, token string, created time.Time, exp time.Time) Info {
	t.Helper()
	return addSeen(t, pool, x, uid, token, created, created, exp)
}

// addSeen is addSession for a session last seen at seen.
func addSeen(t *testing.T, pool *redigo.Pool, x *Index, uid, token string, created, seen, exp time.Time) Info {
	t.Helper()
	id, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	created, seen = created.Truncate(time.Second).UTC(), seen.Truncate(time.Second).UTC()
	rec := &Record{UserID: uid, Username: "user-" + uid, Role: "user", SID: id, MemberSince: created.Add(-time.Hour),
		AuthAt: created, Seen: seen, Stamp: user.NewStamp(), IP: "192.0.2.1", Device: "Firefox on Linux"}
	b, err := Codec{}.Encode(created.Add(24*time.Hour), map[string]any{RecordKey: rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := NewStore(pool, 1).CommitCtx(context.Background(), StoreKey(token), b, exp); err != nil {
		t.Fatal(err)
	}
	info := Info{ID: id, UserID: uid, Created: created, AuthAt: created, LastSeen: seen, ExpiresAt: exp, Ends: created.Add(24 * time.Hour),
		IP: rec.IP, Device: rec.Device}
	if err := x.Add(context.Background(), info, token); err != nil {
		t.Fatal(err)
	}
	return info
}

// exists reports whether key holds a session.
func exists(t *testing.T, pool *redigo.Pool, key string) bool {
	t.Helper()
	c := pool.Get()
	defer c.Close()
	// A tombstone (tombstone.go) is not a session.
	n, err := redigo.Int(c.Do("STRLEN", key))
	if err != nil {
		t.Fatal(err)
	}
	return n > 2
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
	if !exists(t, pool, DataKey("token-o")) {
		t.Fatal("u1 deleted u2's session")
	}

	if ok, err := x.Revoke(ctx, "u1", b.ID); err != nil || !ok {
		t.Fatalf("Revoke: got %v, %v", ok, err)
	}
	if exists(t, pool, DataKey("token-b")) {
		t.Fatal("revoked session's data is still in Redis")
	}
	ids, err := x.RevokeAll(ctx, "u1", c.ID, EndedElsewhere)
	if err != nil || len(ids) != 1 || ids[0] != a.ID {
		t.Fatalf("RevokeAll keeping c: got %v, %v; want [a]", ids, err)
	}
	if !exists(t, pool, DataKey("token-c")) || exists(t, pool, DataKey("token-a")) {
		t.Fatal("RevokeAll removed the wrong sessions")
	}
	ids, err = x.RevokeAll(ctx, "u1", "", EndedElsewhere)
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
	if _, err := c.Do("DEL", DataKey("vanished")); err != nil {
		t.Fatal(err)
	}
	// Redis's expiry ends sessions: here at once.
	if _, err := c.Do("PEXPIREAT", DataKey("soon"), 1); err != nil {
		t.Fatal(err)
	}
	list, err := x.List(ctx, "u")
	if err != nil || len(list) != 1 || list[0].ID != live.ID {
		t.Fatalf("got %+v, %v; want only the live session", list, err)
	}
	if n, _ := redigo.Int(c.Do("HLEN", userKey("u"))); n != 1 {
		t.Fatalf("index still holds %d members", n)
	}
}

// TestIndexCounts: counts of several users' live sessions, in the order
// asked, pruning as List does, in a number of round trips that does not
// grow with the users.
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
	if _, err := c.Do("DEL", DataKey("b3")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do("PEXPIREAT", DataKey("a2"), 1); err != nil { // a2 has expired
		t.Fatal(err)
	}
	got, err := x.Counts(ctx, []string{"b", "nobody", "a"})
	if err != nil || !slices.Equal(got, []int{2, 0, 1}) {
		t.Fatalf("got %v, %v; want [2 0 1]", got, err)
	}
	// One HGETALL (and EXISTS of an old index) per user, one STRLEN per
	// session (a tombstone is not a session), in two pipelines.
	testenv.ResetStats(t, c)
	if got, err := x.Counts(ctx, []string{"a", "b"}); err != nil || !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("again: got %v, %v; want [1 2]", got, err)
	}
	calls := testenv.CommandCalls(t, c)
	if calls["hgetall"] != 2 || calls["exists"] != 2 || calls["strlen"] != 3 || calls["evalsha"]+calls["eval"] != 0 {
		t.Errorf("got %v, want two HGETALL, two EXISTS and three STRLEN", calls)
	}
	for _, k := range []string{userKey("a"), userKey("b")} {
		if n, _ := redigo.Int(c.Do("HLEN", k)); n != map[string]int{userKey("a"): 1, userKey("b"): 2}[k] {
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
	ttl, err := redigo.Int64(c.Do("PTTL", dataKey("k")))
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
	ctx := context.Background()
	var ids []string
	for i, seen := range []time.Duration{-time.Minute, -3 * time.Minute, -2 * time.Minute, 0} {
		info := addSeen(t, pool, x, "u1", fmt.Sprintf("token-%d", i), now.Add(-time.Hour), now.Add(seen), now.Add(time.Hour))
		ids = append(ids, info.ID)
	}
	// The fifth is being signed in: its data is not stored yet.
	s4, _ := NewID()
	if err := x.Add(ctx, Info{ID: s4, UserID: "u1", ExpiresAt: now.Add(time.Hour)}, "token-4"); err != nil {
		t.Fatal(err)
	}
	got, err := x.Trim(ctx, "u1", s4, 3)
	slices.Sort(got)
	want := []string{ids[1], ids[2]}
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Trim: got %v, %v; want %v, the least recently seen", got, err, want)
	}
	if exists(t, pool, DataKey("token-1")) || !exists(t, pool, DataKey("token-3")) {
		t.Fatal("Trim removed the wrong sessions' data")
	}
	if list, _ := x.List(ctx, "u1"); len(list) != 2 { // s4 has no data yet, so List prunes it
		t.Fatalf("after Trim: %d sessions listed, want s0 and s3", len(list))
	}
	if got, err := x.Trim(ctx, "u1", "", 2); err != nil || len(got) != 0 {
		t.Fatalf("Trim within the cap: got %v, %v", got, err)
	}
}
