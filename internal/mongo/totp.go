package mongo

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"

	"github.com/gatehouse/gatehouse/internal/mfa"
)

// TOTPs is mfa.Store over the totp collection: one document per enrolled
// user, whose _id is the user's id (so a second enrolment is a duplicate
// key), and totp_used, a marker per recovery code used. Only features
// MongoDB and FerretDB share: plain documents, unique _id, $set and
// $pull.
type TOTPs struct {
	coll    *mongo.Collection
	used    *mongo.Collection // one marker per recovery code used (UseRecovery)
	timeout time.Duration
	guard   *breaker
}

type totpDoc struct {
	UserID    string    `bson:"_id"`
	Secret    string    `bson:"secret"`
	Recovery  []string  `bson:"recovery"`
	CreatedAt time.Time `bson:"created_at"`
}

// NewTOTPs returns the store over db.totp, every operation under timeout
// behind its own circuit breaker (breaker).
func NewTOTPs(db *mongo.Database, timeout time.Duration, logger *slog.Logger) *TOTPs {
	client := db.Client()
	ping := func(ctx context.Context) error { return client.Ping(ctx, nil) }
	return &TOTPs{coll: db.Collection("totp"), used: db.Collection("totp_used"), timeout: timeout, guard: newBreaker(ping, timeout, logger)}
}

// Close stops the breaker's background ping.
func (s *TOTPs) Close() { s.guard.close() }

// run runs op under the breaker and the timeout.
func (s *TOTPs) run(ctx context.Context, what string, op func(ctx context.Context) error) (err error) {
	done, err := s.guard.allow(what)
	if err != nil {
		return err
	}
	defer func() {
		// Answers about the data are no failure of the store.
		if errors.Is(err, mfa.ErrNotEnrolled) || errors.Is(err, mfa.ErrEnrolled) {
			done(nil)
			return
		}
		done(err)
	}()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return op(ctx)
}

// Get implements mfa.Store.
func (s *TOTPs) Get(ctx context.Context, userID string) (*mfa.TOTP, error) {
	var d totpDoc
	err := s.run(ctx, "find totp", func(ctx context.Context) error {
		err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return mfa.ErrNotEnrolled
		}
		if err != nil {
			return unavailable("find totp", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &mfa.TOTP{UserID: d.UserID, Secret: d.Secret, Recovery: d.Recovery, CreatedAt: d.CreatedAt}, nil
}

// Create implements mfa.Store.
func (s *TOTPs) Create(ctx context.Context, t *mfa.TOTP) error {
	return s.run(ctx, "create totp", func(ctx context.Context) error {
		_, err := s.coll.InsertOne(ctx, totpDoc{UserID: t.UserID, Secret: t.Secret, Recovery: t.Recovery, CreatedAt: t.CreatedAt})
		if isDuplicate(err) {
			return mfa.ErrEnrolled
		}
		if err != nil {
			return unavailable("create totp", err)
		}
		return nil
	})
}

// UseRecovery implements mfa.Store. A filtered $pull alone is atomic on
// MongoDB but not on FerretDB 1.24, which reads and writes the document
// apart: of 16 concurrent uses of one code, 6 succeeded in
// TestTOTPStore. So a use first inserts a marker whose _id names the
// user and the code into totp_used: the unique _id, which both enforce
// atomically, lets exactly one use through; then the code is pulled.
func (s *TOTPs) UseRecovery(ctx context.Context, userID, hash string) (used bool, err error) {
	err = s.run(ctx, "use recovery code", func(ctx context.Context) error {
		n, err := s.coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: userID}, {Key: "recovery", Value: hash}})
		if err != nil {
			return unavailable("use recovery code", err)
		}
		if n == 0 {
			return nil
		}
		_, err = s.used.InsertOne(ctx, bson.D{{Key: "_id", Value: userID + "/" + hash}, {Key: "at", Value: time.Now().UTC()}})
		if isDuplicate(err) {
			return nil
		}
		if err != nil {
			return unavailable("use recovery code", err)
		}
		if _, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: userID}},
			bson.D{{Key: "$pull", Value: bson.D{{Key: "recovery", Value: hash}}}}); err != nil {
			// The marker stands: the code is used up either way.
			return unavailable("use recovery code", err)
		}
		used = true
		return nil
	})
	return used, err
}

// SetRecovery implements mfa.Store.
func (s *TOTPs) SetRecovery(ctx context.Context, userID string, hashes []string) error {
	return s.run(ctx, "set recovery codes", func(ctx context.Context) error {
		res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: userID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "recovery", Value: hashes}}}})
		if err != nil {
			return unavailable("set recovery codes", err)
		}
		if res.MatchedCount == 0 {
			return mfa.ErrNotEnrolled
		}
		return nil
	})
}

// Delete implements mfa.Store.
func (s *TOTPs) Delete(ctx context.Context, userID string) error {
	return s.run(ctx, "delete totp", func(ctx context.Context) error {
		if _, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: userID}}); err != nil {
			return unavailable("delete totp", err)
		}
		return nil
	})
}
