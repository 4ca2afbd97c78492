package mongo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse/gatehouse/internal/mongo"
	"github.com/gatehouse/gatehouse/internal/passkey"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func newPasskeys(t *testing.T) *mongo.Passkeys {
	t.Helper()
	uri, db := testenv.Mongo(t)
	client, err := mongo.Connect(context.Background(), uri, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	r := mongo.NewPasskeys(client.Database(db), 5*time.Second)
	for range 2 { // idempotent
		if err := r.EnsureIndexes(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestPasskeysRepository(t *testing.T) {
	t.Parallel()
	r := newPasskeys(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	a := &passkey.Credential{ID: []byte{1, 2, 3}, UserID: "u1", Name: "Laptop", CreatedAt: now,
		Record: webauthn.Credential{ID: []byte{1, 2, 3}, PublicKey: []byte("pk"), Flags: webauthn.CredentialFlags{BackupEligible: true},
			Authenticator: webauthn.Authenticator{SignCount: 7}}}
	b := &passkey.Credential{ID: []byte{4, 5}, UserID: "u1", Name: "Phone", CreatedAt: now.Add(time.Second),
		Record: webauthn.Credential{ID: []byte{4, 5}, PublicKey: []byte("pk2")}}
	for _, c := range []*passkey.Credential{a, b} {
		if err := r.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// The unique index: the same credential id, even for another user.
	dup := *a
	dup.UserID = "u2"
	if err := r.Create(ctx, &dup); !errors.Is(err, passkey.ErrExists) {
		t.Fatalf("duplicate: got %v, want ErrExists", err)
	}
	list, err := r.ByUser(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "Laptop" || list[1].Name != "Phone" {
		t.Fatalf("ByUser: got %+v, want Laptop then Phone", list)
	}
	if got := list[0]; string(got.Record.PublicKey) != "pk" || got.Record.Authenticator.SignCount != 7 || !got.Record.Flags.BackupEligible || !got.CreatedAt.Equal(now) || !got.LastUsedAt.IsZero() {
		t.Errorf("record: got %+v", got)
	}
	if n, err := r.Count(ctx, "u1"); err != nil || n != 2 {
		t.Errorf("Count: got %d, %v, want 2", n, err)
	}
	if n, err := r.Count(ctx, "u2"); err != nil || n != 0 {
		t.Errorf("Count u2: got %d, %v, want 0", n, err)
	}

	a.Record.Authenticator.SignCount = 8
	a.Record.Flags.BackupState = true
	a.LastUsedAt = now.Add(time.Minute)
	if err := r.Used(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := r.ByID(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Record.Authenticator.SignCount != 8 || !got.Record.Flags.BackupState || !got.LastUsedAt.Equal(a.LastUsedAt) || got.UserID != "u1" {
		t.Errorf("after Used: got %+v", got)
	}

	// Only the owner deletes.
	if err := r.Delete(ctx, "u2", a.ID); !errors.Is(err, passkey.ErrNotFound) {
		t.Errorf("Delete by another user: got %v, want ErrNotFound", err)
	}
	if err := r.Delete(ctx, "u1", a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ByID(ctx, a.ID); !errors.Is(err, passkey.ErrNotFound) {
		t.Errorf("ByID after Delete: got %v, want ErrNotFound", err)
	}
	if err := r.Used(ctx, a); !errors.Is(err, passkey.ErrNotFound) {
		t.Errorf("Used after Delete: got %v, want ErrNotFound", err)
	}
	other := &passkey.Credential{ID: []byte{9}, UserID: "u2", Name: "Key", CreatedAt: now, Record: webauthn.Credential{ID: []byte{9}}}
	if err := r.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteAll(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := r.Count(ctx, "u1"); n != 0 {
		t.Errorf("Count after DeleteAll: got %d, want 0", n)
	}
	if n, _ := r.Count(ctx, "u2"); n != 1 {
		t.Errorf("another user's after DeleteAll: got %d, want 1", n)
	}
}
