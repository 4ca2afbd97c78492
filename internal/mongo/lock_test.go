package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/user"
)

// TestLastAdminRace: twenty parallel demotions and disables of five admins
// leave exactly one enabled admin. Checking "more than one admin left"
// and then changing was a race: two in parallel, even from one admin's two
// tabs, both saw two admins and left none. FerretDB has no transactions,
// and its conditional updates are not atomic either, so the check and the
// change run under a lock document that only a unique _id guards.
func TestLastAdminRace(t *testing.T) {
	t.Parallel()
	// The changes queue for one lock: on a loaded machine twenty of them,
	// with the race detector, take longer than the usual 5 s. The test is
	// about the count, not the wait; a lock orphaned by a timed-out
	// insert expires (10 s) within this timeout.
	repo := newUsersTimeout(t, 30*time.Second)
	hasher, err := password.New(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		t.Fatal(err)
	}
	svc := user.NewService(repo, hasher, time.Now)
	ctx := context.Background()
	for round := range 3 {
		var ids []string
		for i := range 5 {
			u, err := svc.Create(ctx, fmt.Sprintf("admin%d-%d", round, i), "password-1", user.RoleAdmin)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, u.ID)
		}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				id := ids[i%len(ids)]
				var err error
				if i%2 == 0 {
					_, err = svc.SetRole(ctx, id, user.RoleUser)
				} else {
					_, err = svc.SetDisabled(ctx, id, true)
				}
				if err != nil && !errors.Is(err, user.ErrLastAdmin) {
					t.Errorf("change %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if n, err := repo.CountAdmins(ctx); err != nil || n != 1 {
			t.Fatalf("round %d: %d enabled admins left (%v), want exactly 1", round, n, err)
		}
		// The survivor is the only admin: it cannot go.
		for _, id := range ids {
			if u, _ := repo.ByID(ctx, id); u.Role == user.RoleAdmin && !u.Disabled {
				if _, err := svc.SetRole(ctx, id, user.RoleUser); !errors.Is(err, user.ErrLastAdmin) {
					t.Fatalf("demoting the only admin: got %v, want ErrLastAdmin", err)
				}
				// Step aside for the next round's admins.
				if err := repo.SetRole(ctx, id, user.RoleUser, user.NewStamp(), time.Now()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
