package session_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/user"
)

// TestOnRedisCluster: the store and every operation of the index work on
// a Redis Cluster, where a user's sessions live in other slots than the
// user's index: no command or script spans two slots.
func TestOnRedisCluster(t *testing.T) {
	t.Parallel()
	set := testenv.RedisCluster(t)
	cl, err := redis.NewCluster(set.Addrs[:1], "", redis.Options{Timeout: time.Second, MaxActive: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	now := time.Now().Truncate(time.Second).UTC()
	s := session.NewStoreOn(cl, 8)
	x := session.NewIndexOn(cl, func() time.Time { return now })
	ctx := context.Background()
	uid := "6b091785de5046d2494114b2"
	var recs []*session.Record
	for i := range 4 {
		sid, _ := session.NewID()
		rec := &session.Record{UserID: uid, Username: "ada", Role: "user", SID: sid, MemberSince: now.Add(-time.Hour),
			AuthAt: now.Add(time.Duration(i-10) * time.Minute), Seen: now.Add(time.Duration(i-10) * time.Minute),
			Stamp: user.NewStamp(), IP: "192.0.2.1", Device: "curl"}
		token := fmt.Sprintf("cluster-token-%d", i)
		b, _ := session.Codec{}.Encode(now.Add(time.Hour), map[string]any{session.RecordKey: rec})
		if err := s.CommitCtx(ctx, session.StoreKey(token), b, now.Add(30*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := x.Add(ctx, session.Info{ID: sid, UserID: uid, Ends: now.Add(time.Hour)}, token); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	if list, err := x.List(ctx, uid); err != nil || len(list) != 4 || list[0].ID != recs[3].SID {
		t.Fatalf("List: %+v, %v", list, err)
	}
	if n, err := x.Counts(ctx, []string{uid, "nobody"}); err != nil || n[0] != 4 || n[1] != 0 {
		t.Fatalf("Counts: %v, %v", n, err)
	}
	if r, err := x.Touch(ctx, "cluster-token-3", recs[3], now, now.Add(30*time.Minute)); err != nil || r != session.TouchDone {
		t.Fatalf("Touch: %v, %v", r, err)
	}
	ids, err := x.Trim(ctx, uid, "", 3)
	if err != nil || len(ids) != 1 || ids[0] != recs[0].SID {
		t.Fatalf("Trim: %v, %v; want the least recently seen", ids, err)
	}
	if err := x.SetToken(ctx, uid, recs[1].SID, "cluster-token-1b"); err != nil {
		t.Fatal(err)
	}
	if ok, err := x.Revoke(ctx, uid, recs[2].SID); err != nil || !ok {
		t.Fatalf("Revoke: %v, %v", ok, err)
	}
	if _, found, err := s.FindCtx(ctx, session.StoreKey("cluster-token-2")); err != nil || found {
		t.Fatalf("revoked session: found %v, %v", found, err)
	}
	if ids, err := x.RevokeAll(ctx, uid, recs[3].SID, session.EndedElsewhere); err != nil || len(ids) != 1 {
		t.Fatalf("RevokeAll: %v, %v", ids, err)
	}
	if list, err := x.List(ctx, uid); err != nil || len(list) != 1 || list[0].ID != recs[3].SID || !list[0].LastSeen.Equal(now) {
		t.Fatalf("at the end: %+v, %v", list, err)
	}
}
