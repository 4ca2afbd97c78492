package session_test

import (
	"context"
	"sync"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/user"
)

func pool(t *testing.T) *redigo.Pool {
	t.Helper()
	url, _ := testenv.Redis(t)
	p, err := redis.NewPool(url, redis.Options{Timeout: time.Second, MaxActive: 70})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func exists(t *testing.T, p *redigo.Pool, key string) bool {
	t.Helper()
	c := p.Get()
	defer c.Close()
	// A tombstone (tombstone.go) is not a session.
	n, err := redigo.Int(c.Do("STRLEN", key))
	if err != nil {
		t.Fatal(err)
	}
	return n > 2
}

// load reads the session of token as scs would.
func load(t *testing.T, s *session.Store, token string) (time.Time, *session.Record) {
	t.Helper()
	b, found, err := s.FindCtx(context.Background(), session.StoreKey(token))
	if err != nil || !found {
		t.Fatalf("find %s: found %v, %v", token, found, err)
	}
	deadline, values, err := session.Codec{}.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := values[session.RecordKey].(*session.Record)
	if rec == nil {
		t.Fatalf("no record in %v", values)
	}
	return deadline, rec
}

// save commits rec as the request that loaded token would.
func save(t *testing.T, s *session.Store, token string, deadline time.Time, rec *session.Record, exp time.Time) {
	t.Helper()
	b, err := session.Codec{}.Encode(deadline, map[string]any{session.RecordKey: rec})
	if err != nil {
		t.Fatal(err)
	}
	ctx := session.WithCommitHints(context.Background(), session.CommitHints{LoadedToken: token, ExpiresAt: exp})
	if err := s.CommitCtx(ctx, session.StoreKey(token), b, deadline); err != nil {
		t.Fatal(err)
	}
}

// TestOldLayoutKeepsWorking: sessions written in the layout before (scs
// data under its old key in the general format's version 2, a sorted set
// per user and a hash per session) load, list with their device and IP,
// touch (once saved in the new layout), renew and revoke.
func TestOldLayoutKeepsWorking(t *testing.T) {
	t.Parallel()
	p := pool(t)
	now := time.Now().Truncate(time.Millisecond).UTC()
	s := session.NewStore(p, 4)
	x := session.NewIndex(p, func() time.Time { return now })
	ctx := context.Background()
	uid := "6b091785de5046d2494114b2"
	var old []sessiontest.Legacy
	c := p.Get()
	defer c.Close()
	for i, dev := range []string{"Firefox on Linux", "Safari on iOS", "Chrome on Windows"} {
		sid, _ := session.NewID()
		l := sessiontest.Legacy{Token: "old-token-" + dev, UserID: uid, Username: "ada", Role: "user", SID: sid,
			MemberSince: now.Add(-48 * time.Hour), AuthAt: now.Add(time.Duration(i-10) * time.Minute), Seen: now.Add(-2 * time.Minute),
			Stamp: user.NewStamp(), IP: "198.51.100.7", Device: dev, Deadline: now.Add(20 * time.Hour), ExpiresAt: now.Add(28 * time.Minute)}
		if err := sessiontest.Write(c, l); err != nil {
			t.Fatal(err)
		}
		old = append(old, l)
	}
	a, b, d := old[0], old[1], old[2]

	// A page view.
	deadline, rec := load(t, s, a.Token)
	if rec.SID != a.SID || rec.Stamp != a.Stamp || !rec.SameStamp(a.Stamp) || !deadline.Equal(a.Deadline) {
		t.Fatalf("loaded %+v, deadline %v; want the old session", rec, deadline)
	}

	// The listing, which moves the index into the new layout.
	list, err := x.List(ctx, uid)
	if err != nil || len(list) != 3 {
		t.Fatalf("List: %+v, %v; want 3 sessions", list, err)
	}
	if list[0].ID != d.SID || list[0].Device != d.Device || list[0].IP != d.IP || !list[0].Created.Equal(d.AuthAt) || !list[2].LastSeen.Equal(a.Seen) {
		t.Fatalf("List: got %+v, want the old index's facts, newest first", list)
	}
	if exists(t, p, a.UserKey()) || exists(t, p, a.MetaKey()) {
		t.Fatal("the old index is still there after moving")
	}

	// The touch: a record in the old format is saved whole, at its new
	// key; from then on the touch rewrites it in place.
	seen := now.Add(time.Minute)
	res, err := x.Touch(ctx, a.Token, rec, seen, seen.Add(30*time.Minute))
	if err != nil || res != session.TouchSave {
		t.Fatalf("first touch: got %v, %v; want TouchSave", res, err)
	}
	touched := rec.Touched(seen)
	save(t, s, a.Token, deadline, &touched, seen.Add(30*time.Minute))
	if exists(t, p, a.StoreKey()) || !exists(t, p, session.DataKey(a.Token)) {
		t.Fatal("the saved session did not move to its new key")
	}
	deadline, rec = load(t, s, a.Token)
	if !rec.Seen.Equal(seen.Truncate(time.Second)) || !deadline.Equal(a.Deadline.Truncate(time.Second)) || !rec.SameStamp(a.Stamp) {
		t.Fatalf("after the save: %+v, deadline %v", rec, deadline)
	}
	res, err = x.Touch(ctx, a.Token, rec, seen.Add(time.Minute), seen.Add(31*time.Minute))
	if err != nil || res != session.TouchDone {
		t.Fatalf("second touch: got %v, %v; want TouchDone", res, err)
	}
	list, _ = x.List(ctx, uid)
	if len(list) != 3 || list[2].ID != a.SID || list[2].Device != a.Device || !list[2].LastSeen.Equal(seen.Add(time.Minute).Truncate(time.Second)) {
		t.Fatalf("after the touch: %+v", list)
	}

	// Renewing keeps what the old index knew.
	if err := s.DeleteCtx(ctx, session.StoreKey(d.Token)); err != nil {
		t.Fatal(err)
	}
	const renewed = "renewed-token"
	save2 := func() {
		b, _ := session.Codec{}.Encode(d.Deadline, map[string]any{session.RecordKey: &session.Record{UserID: uid, Username: "ada", Role: "user", SID: d.SID,
			MemberSince: d.MemberSince, AuthAt: d.AuthAt, Seen: d.Seen, Stamp: d.Stamp}})
		if err := s.CommitCtx(ctx, session.StoreKey(renewed), b, d.ExpiresAt); err != nil {
			t.Fatal(err)
		}
	}
	save2()
	if err := x.SetToken(ctx, uid, d.SID, renewed); err != nil {
		t.Fatal(err)
	}
	list, _ = x.List(ctx, uid)
	if len(list) != 3 || list[0].ID != d.SID || list[0].Device != d.Device {
		t.Fatalf("after renewing: %+v", list)
	}

	// Revoking one still in its old key, then all.
	if ok, err := x.Revoke(ctx, uid, b.SID); err != nil || !ok {
		t.Fatalf("Revoke: %v, %v", ok, err)
	}
	if exists(t, p, b.StoreKey()) {
		t.Fatal("the revoked session's data is still under its old key")
	}
	ids, err := x.RevokeAll(ctx, uid, "", session.EndedElsewhere)
	if err != nil || len(ids) != 2 {
		t.Fatalf("RevokeAll: %v, %v; want 2", ids, err)
	}
	if exists(t, p, session.DataKey(a.Token)) || exists(t, p, session.DataKey(renewed)) {
		t.Fatal("RevokeAll left data behind")
	}
}

// TestTouchOnceAcrossRequests: 64 requests that loaded the same session
// and all find its touch due touch it once between them.
func TestTouchOnceAcrossRequests(t *testing.T) {
	t.Parallel()
	p := pool(t)
	now := time.Now().Truncate(time.Second).UTC()
	s := session.NewStore(p, 70)
	x := session.NewIndex(p, func() time.Time { return now })
	sid, _ := session.NewID()
	rec := &session.Record{UserID: "6b091785de5046d2494114b2", Username: "ada", Role: "user", SID: sid,
		MemberSince: now.Add(-time.Hour), AuthAt: now.Add(-5 * time.Minute), Seen: now.Add(-2 * time.Minute), Stamp: user.NewStamp()}
	const token = "busy-token"
	b, _ := session.Codec{}.Encode(now.Add(time.Hour), map[string]any{session.RecordKey: rec})
	if err := s.CommitCtx(context.Background(), session.StoreKey(token), b, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, loaded := load(t, s, token)
	const requests = 64
	var wg sync.WaitGroup
	results := make([]session.TouchResult, requests)
	for i := range requests {
		wg.Go(func() {
			var err error
			results[i], err = x.Touch(context.Background(), token, loaded, now, now.Add(30*time.Minute))
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	done := 0
	for _, r := range results {
		switch r {
		case session.TouchDone:
			done++
		case session.TouchLost:
		default:
			t.Errorf("got %v, want TouchDone or TouchLost", r)
		}
	}
	if done != 1 {
		t.Fatalf("%d of %d requests touched the session, want 1", done, requests)
	}
	_, after := load(t, s, token)
	want := *loaded
	want.Seen = now
	if *after != want {
		t.Fatalf("after the touch: %+v, want %+v", after, want)
	}
	c := p.Get()
	defer c.Close()
	if ttl, _ := redigo.Int64(c.Do("PTTL", session.DataKey(token))); ttl < (29 * time.Minute).Milliseconds() {
		t.Fatalf("PTTL %d ms after the touch, want about 30 minutes", ttl)
	}
	// A request that loaded before the touch finds it done.
	if r, err := x.Touch(context.Background(), token, loaded, now, now.Add(30*time.Minute)); err != nil || r != session.TouchLost {
		t.Fatalf("late touch: %v, %v", r, err)
	}
}
