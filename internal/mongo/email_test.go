package mongo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/user"
)

// TestEmailAddresses runs the address rules on FerretDB through the user
// service: pending until verified, unique and look-alike-free once
// verified, and many accounts without one.
func TestEmailAddresses(t *testing.T) {
	t.Parallel()
	repo := newUsers(t)
	h, err := password.New(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		t.Fatal(err)
	}
	svc := user.NewService(repo, h, time.Now)
	ctx := context.Background()

	// Several accounts without an address: the sparse unique indexes
	// allow it.
	pat, err := svc.RegisterWithEmail(ctx, "pat", "correct horse 1", "Pat@Example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sam", "kim"} {
		if _, err := svc.RegisterWithEmail(ctx, name, "correct horse 1", ""); err != nil {
			t.Fatal(err)
		}
	}
	u, _ := svc.ByID(ctx, pat.ID)
	if u.EmailPending != "Pat@example.com" || u.Email != "" {
		t.Fatalf("after sign-up: got pending %q, verified %q", u.EmailPending, u.Email)
	}
	// Not findable until verified: only verified addresses count.
	if _, err := svc.ByLogin(ctx, "pat@example.com"); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("ByLogin before verification: got %v, want ErrNotFound", err)
	}
	// A link bound to another address proves nothing.
	if _, err := svc.VerifyEmail(ctx, pat.ID, "other@example.com"); !errors.Is(err, user.ErrEmailChanged) {
		t.Fatalf("VerifyEmail of another address: got %v, want ErrEmailChanged", err)
	}
	if _, err := svc.VerifyEmail(ctx, pat.ID, "pat@example.com"); err != nil {
		t.Fatal(err)
	}
	u, _ = svc.ByID(ctx, pat.ID)
	if u.Email != "Pat@example.com" || u.EmailPending != "" || u.EmailVerifiedAt.IsZero() {
		t.Fatalf("after verification: got %+v", u)
	}
	if got, err := svc.ByLogin(ctx, "PAT@EXAMPLE.COM"); err != nil || got.ID != pat.ID {
		t.Fatalf("ByLogin by address: got %v, %v", got, err)
	}

	// Another account may ask for the same address (nothing is
	// revealed), but cannot verify it, nor a look-alike.
	sam, _ := svc.ByUsername(ctx, "sam")
	for _, tc := range []struct {
		addr string
		want error
	}{
		{"pat@EXAMPLE.com", user.ErrEmailTaken},
		{"pаt@example.com", user.ErrEmailLookalike}, // Cyrillic а
	} {
		a, _, err := svc.RequestEmailChange(ctx, sam.ID, tc.addr)
		if err != nil {
			t.Fatalf("RequestEmailChange(%q): %v", tc.addr, err)
		}
		if _, err := svc.VerifyEmail(ctx, sam.ID, a.Norm); !errors.Is(err, tc.want) {
			t.Errorf("VerifyEmail(%q): got %v, want %v", tc.addr, err, tc.want)
		}
	}

	// A change: the old address stays until the new one is verified.
	a, before, err := svc.RequestEmailChange(ctx, pat.ID, "pat@new.example")
	if err != nil || before.Email != "Pat@example.com" {
		t.Fatalf("RequestEmailChange: got %+v, %v", before, err)
	}
	if got, err := svc.ByLogin(ctx, "pat@example.com"); err != nil || got.ID != pat.ID {
		t.Fatalf("old address while the new one waits: got %v, %v", got, err)
	}
	if _, err := svc.VerifyEmail(ctx, pat.ID, a.Norm); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ByLogin(ctx, "pat@example.com"); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("old address after the change: got %v, want ErrNotFound", err)
	}
	// The old address is free again.
	a, _, _ = svc.RequestEmailChange(ctx, sam.ID, "pat@example.com")
	if _, err := svc.VerifyEmail(ctx, sam.ID, a.Norm); err != nil {
		t.Fatalf("the freed address: %v", err)
	}
	if _, _, err := svc.RequestEmailChange(ctx, sam.ID, "PAT@example.com"); err == nil {
		t.Error("asking for one's own verified address again: no error")
	}
}
