package mongo_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/mongo"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestTOTPStore: an enrolment is stored once per user; of concurrent
// uses of one recovery code exactly one succeeds (on FerretDB as on
// MongoDB: a filtered $pull); codes can be replaced; Delete removes it.
func TestTOTPStore(t *testing.T) {
	t.Parallel()
	uri, db := testenv.Mongo(t)
	client, err := mongo.Connect(context.Background(), uri, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	s := mongo.NewTOTPs(client.Database(db), 5*time.Second, slog.New(slog.DiscardHandler))
	t.Cleanup(s.Close)
	ctx := context.Background()

	if _, err := s.Get(ctx, "nobody"); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("get of none: got %v", err)
	}
	rec := &mfa.TOTP{UserID: "u1", Secret: "SECRET", Recovery: []string{"h1", "h2", "h3"}, CreatedAt: time.Now().UTC()}
	if err := s.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, rec); !errors.Is(err, mfa.ErrEnrolled) {
		t.Fatalf("second enrolment: got %v, want ErrEnrolled", err)
	}
	var used atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			ok, err := s.UseRecovery(ctx, "u1", "h2")
			if err != nil {
				t.Error(err)
			}
			if ok {
				used.Add(1)
			}
		})
	}
	wg.Wait()
	if n := used.Load(); n != 1 {
		t.Fatalf("one recovery code used %d times, want 1", n)
	}
	got, err := s.Get(ctx, "u1")
	if err != nil || len(got.Recovery) != 2 || got.Secret != "SECRET" {
		t.Fatalf("after use: got %+v, %v", got, err)
	}
	if err := s.SetRecovery(ctx, "u1", []string{"n1"}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.UseRecovery(ctx, "u1", "h1"); ok {
		t.Fatal("a replaced code still works")
	}
	if err := s.SetRecovery(ctx, "nobody", []string{"n1"}); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("set codes of none: got %v", err)
	}
	if err := s.Delete(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "u1"); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("after delete: got %v", err)
	}
}
