package user

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestSignupsUseAtMostHalfTheHashing: with four hashing slots, two
// sign-ups hashing at once leave the other two to sign-ins; a third
// sign-up waits and gives up with ErrBusy, while sign-ins still get theirs.
func TestSignupsUseAtMostHalfTheHashing(t *testing.T) {
	t.Parallel()
	s := (&Service{}).LimitHashing(4, 20*time.Millisecond)
	ctx := context.Background()
	var release []func()
	for range 2 {
		r, err := s.signupSlot(ctx)
		if err != nil {
			t.Fatalf("sign-up within half the slots: %v", err)
		}
		release = append(release, r)
	}
	if _, err := s.signupSlot(ctx); !errors.Is(err, ErrBusy) {
		t.Fatalf("a third sign-up of four slots: got %v, want ErrBusy", err)
	}
	for range 2 {
		r, err := s.slot(ctx)
		if err != nil {
			t.Fatalf("a sign-in while sign-ups hold half the slots: %v", err)
		}
		release = append(release, r)
	}
	if _, err := s.slot(ctx); !errors.Is(err, ErrBusy) {
		t.Fatalf("a fifth hash of four slots: got %v, want ErrBusy", err)
	}
	for _, r := range release {
		r()
	}
	if _, err := s.signupSlot(ctx); err != nil {
		t.Fatalf("after release: %v", err)
	}
	if one := (&Service{}).LimitHashing(1, time.Millisecond); cap(one.signupSlots) != 1 {
		t.Fatalf("one slot: sign-ups got %d, want 1", cap(one.signupSlots))
	}
}
