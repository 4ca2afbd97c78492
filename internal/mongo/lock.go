package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
)

// Locks are documents in the locks collection whose _id is the lock's
// name: inserting one takes the lock, and the unique _id, which MongoDB
// and FerretDB both enforce, refuses a second holder. Neither
// transactions (FerretDB has none) nor conditional updates (FerretDB's
// SQLite backend reads, then writes) would make a check and a change
// atomic. A holder that crashed leaves its lock to expire.
const (
	lockTTL   = 10 * time.Second      // how long a lock outlives a holder that crashed
	lockRetry = 20 * time.Millisecond // how often a waiter tries again
)

// WithAdminLock runs fn while holding the lock that serialises changes
// which could remove an enabled admin, so that counting the admins and
// the change happen as one (user.Service's last-admin rule). It waits for
// the lock until the repository's timeout, then fails with an error that
// wraps user.ErrUnavailable (the web layer's 503).
func (r *Users) WithAdminLock(ctx context.Context, fn func() error) error {
	release, err := r.lock(ctx, "admins")
	if err != nil {
		return err
	}
	defer release()
	return fn()
}

// lock takes the lock name, or fails at the repository's timeout.
func (r *Users) lock(ctx context.Context, name string) (release func(), err error) {
	locks := r.coll.Database().Collection("locks")
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	holder := hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	for {
		now := time.Now()
		_, err := locks.InsertOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "holder", Value: holder},
			{Key: "expires_at", Value: now.Add(lockTTL)}})
		if err == nil {
			return func() {
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
				defer cancel()
				_, _ = locks.DeleteOne(dctx, bson.D{{Key: "_id", Value: name}, {Key: "holder", Value: holder}})
			}, nil
		}
		if !isDuplicate(err) {
			// A timed-out insert may still have landed: remove this
			// holder's lock, if it is there, rather than leave it to
			// block everyone until it expires.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
			_, _ = locks.DeleteOne(dctx, bson.D{{Key: "_id", Value: name}, {Key: "holder", Value: holder}})
			cancel()
			return nil, unavailable("take lock "+name, err)
		}
		// Held. Clear it only if its holder let it expire: the filter
		// names that holder, so a lock taken meanwhile by someone else
		// is not removed.
		var held struct {
			Holder    string    `bson:"holder"`
			ExpiresAt time.Time `bson:"expires_at"`
		}
		err = locks.FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&held)
		if err == nil && held.ExpiresAt.Before(now) {
			_, _ = locks.DeleteOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "holder", Value: held.Holder}})
			continue
		}
		select {
		case <-ctx.Done():
			return nil, unavailable("take lock "+name, fmt.Errorf("waiting: %w", errors.Join(ctx.Err(), errLockHeld)))
		case <-time.After(lockRetry):
		}
	}
}

var errLockHeld = errors.New("lock held")
