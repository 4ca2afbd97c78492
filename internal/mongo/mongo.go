// Package mongo stores users in MongoDB with the official driver.
//
// It sticks to what both MongoDB and FerretDB (the development and test
// server) support: no collations, transactions or partial indexes. Usernames
// are unique through a normalised copy (username_norm) under a unique index.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/event"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/gatehouse/gatehouse/internal/user"
)

// Connect opens a client to uri and checks it with a ping, all within
// timeout. The client's own server selection and socket timeouts are bounded
// too, so that no operation waits forever on a lost server.
//
// A monitor, when given, observes every command (for latency metrics).
func Connect(ctx context.Context, uri string, timeout time.Duration, monitor ...*event.CommandMonitor) (*mongo.Client, error) {
	opts := options.Client().ApplyURI(uri).
		SetConnectTimeout(timeout).
		SetServerSelectionTimeout(timeout).
		SetTimeout(timeout).
		SetAppName("gatehouse")
	if len(monitor) > 0 && monitor[0] != nil {
		opts.SetMonitor(monitor[0])
	}
	client, err := mongo.Connect(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to mongodb: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := client.Ping(pctx, nil); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("ping mongodb: %w", err)
	}
	return client, nil
}

// Ping checks that the server answers within timeout.
func Ping(ctx context.Context, client *mongo.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return client.Ping(ctx, nil)
}

// Users is the user.Repository over the users collection.
type Users struct {
	coll    *mongo.Collection
	timeout time.Duration
	guard   *breaker
}

// NewUsers returns the repository over db.users. Every operation runs under
// timeout, or the caller's earlier deadline, behind a circuit breaker that
// fails them at once while MongoDB is known to be down (breaker). logger
// (nil: none) hears when that starts and ends. Close stops the breaker's
// background ping.
func NewUsers(db *mongo.Database, timeout time.Duration, logger *slog.Logger) *Users {
	client := db.Client()
	ping := func(ctx context.Context) error { return client.Ping(ctx, nil) }
	return &Users{coll: db.Collection("users"), timeout: timeout, guard: newBreaker(ping, timeout, logger)}
}

// Close stops the background work of the repository; the client stays open.
func (r *Users) Close() { r.guard.close() }

// EnsureIndexes creates the unique index on username_norm. It is idempotent:
// creating an index that exists with the same definition is a no-op.
func (r *Users) EnsureIndexes(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	_, err := r.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "username_norm", Value: 1}},
		Options: options.Index().SetName("username_norm_unique").SetUnique(true),
	})
	if err != nil {
		return fmt.Errorf("create users index: %w", err)
	}
	return nil
}

// document is the stored shape of a user.
type document struct {
	ID           primitive.ObjectID `bson:"_id,omitempty"`
	Username     string             `bson:"username"`
	UsernameNorm string             `bson:"username_norm"`
	PasswordHash string             `bson:"password_hash"`
	Role         string             `bson:"role"`
	CreatedAt    time.Time          `bson:"created_at"`
	UpdatedAt    time.Time          `bson:"updated_at"`
	LastLoginAt  *time.Time         `bson:"last_login_at"`
	Disabled     bool               `bson:"disabled"`
	Stamp        string             `bson:"security_stamp,omitempty"`
}

func toDocument(u *user.User) document {
	d := document{
		Username:     u.Username,
		UsernameNorm: u.UsernameNorm,
		PasswordHash: u.PasswordHash,
		Role:         string(u.Role),
		CreatedAt:    u.CreatedAt,
		UpdatedAt:    u.UpdatedAt,
		Disabled:     u.Disabled,
		Stamp:        u.SecurityStamp,
	}
	if !u.LastLoginAt.IsZero() {
		t := u.LastLoginAt
		d.LastLoginAt = &t
	}
	return d
}

func (d document) user() *user.User {
	u := &user.User{
		ID:            d.ID.Hex(),
		Username:      d.Username,
		UsernameNorm:  d.UsernameNorm,
		PasswordHash:  d.PasswordHash,
		Role:          user.Role(d.Role),
		CreatedAt:     d.CreatedAt.UTC(),
		UpdatedAt:     d.UpdatedAt.UTC(),
		Disabled:      d.Disabled,
		SecurityStamp: d.Stamp,
	}
	if d.LastLoginAt != nil {
		u.LastLoginAt = d.LastLoginAt.UTC()
	}
	return u
}

// Create inserts u and sets u.ID.
func (r *Users) Create(ctx context.Context, u *user.User) (err error) {
	done, err := r.guard.allow("insert user")
	if err != nil {
		return err
	}
	defer func() { done(err) }()
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res, err := r.coll.InsertOne(ctx, toDocument(u))
	if isDuplicate(err) {
		return user.ErrUsernameTaken
	}
	if err != nil {
		return unavailable("insert user", err)
	}
	id, ok := res.InsertedID.(primitive.ObjectID)
	if !ok {
		return fmt.Errorf("insert user: unexpected id type %T", res.InsertedID)
	}
	u.ID = id.Hex()
	return nil
}

// ByUsernameNorm finds the user with the normalised name norm.
func (r *Users) ByUsernameNorm(ctx context.Context, norm string) (*user.User, error) {
	return r.findOne(ctx, bson.D{{Key: "username_norm", Value: norm}})
}

// ByID finds the user with id; a malformed id is simply not found.
func (r *Users) ByID(ctx context.Context, id string) (*user.User, error) {
	oid, err := primitive.ObjectIDFromHex(id)
	if err != nil {
		return nil, user.ErrNotFound
	}
	return r.findOne(ctx, bson.D{{Key: "_id", Value: oid}})
}

func (r *Users) findOne(ctx context.Context, filter bson.D) (_ *user.User, err error) {
	done, err := r.guard.allow("find user")
	if err != nil {
		return nil, err
	}
	defer func() { done(err) }()
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var d document
	err = r.coll.FindOne(ctx, filter).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, user.ErrNotFound
	}
	if err != nil {
		return nil, unavailable("find user", err)
	}
	return d.user(), nil
}

// RecordLogin stores the time of a successful sign-in and, when newHash is
// set, the upgraded password hash.
func (r *Users) RecordLogin(ctx context.Context, id string, at time.Time, newHash string) error {
	set := bson.D{{Key: "last_login_at", Value: at}, {Key: "updated_at", Value: at}}
	if newHash != "" {
		set = append(set, bson.E{Key: "password_hash", Value: newHash})
	}
	return r.update(ctx, id, set)
}

// isDuplicate recognises a unique-index violation. FerretDB reports some of
// them as a plain CommandError with code 11000, which
// mongo.IsDuplicateKeyError does not always catch, so check both.
func isDuplicate(err error) bool {
	if err == nil {
		return false
	}
	if mongo.IsDuplicateKeyError(err) {
		return true
	}
	ce, ok := errors.AsType[mongo.CommandError](err)
	return ok && ce.Code == 11000
}

// unavailable marks a driver error as a failure to reach the store, which
// the web layer answers with 503: the request itself was fine.
func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, user.ErrUnavailable, err)
}

// update sets fields of user id.
func (r *Users) update(ctx context.Context, id string, set bson.D) (err error) {
	oid, err := primitive.ObjectIDFromHex(id)
	if err != nil {
		return user.ErrNotFound
	}
	done, err := r.guard.allow("update user")
	if err != nil {
		return err
	}
	defer func() { done(err) }()
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res, err := r.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: oid}}, bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return unavailable("update user "+id, err)
	}
	if res.MatchedCount == 0 {
		return user.ErrNotFound
	}
	return nil
}

// SetPasswordHash replaces the password hash of user id.
func (r *Users) SetPasswordHash(ctx context.Context, id, hash string, at time.Time) error {
	return r.update(ctx, id, bson.D{{Key: "password_hash", Value: hash}, {Key: "updated_at", Value: at}})
}

// SetPassword sets a new password's hash of user id, and its security
// stamp, in one update.
func (r *Users) SetPassword(ctx context.Context, id, hash, stamp string, at time.Time) error {
	return r.update(ctx, id, bson.D{{Key: "password_hash", Value: hash}, {Key: "security_stamp", Value: stamp}, {Key: "updated_at", Value: at}})
}

// SetRole sets the role of user id and its security stamp.
func (r *Users) SetRole(ctx context.Context, id string, role user.Role, stamp string, at time.Time) error {
	return r.update(ctx, id, bson.D{{Key: "role", Value: string(role)}, {Key: "security_stamp", Value: stamp}, {Key: "updated_at", Value: at}})
}

// SetDisabled disables or enables user id and sets its security stamp.
func (r *Users) SetDisabled(ctx context.Context, id string, disabled bool, stamp string, at time.Time) error {
	return r.update(ctx, id, bson.D{{Key: "disabled", Value: disabled}, {Key: "security_stamp", Value: stamp}, {Key: "updated_at", Value: at}})
}

// SetStamp replaces the security stamp of user id.
func (r *Users) SetStamp(ctx context.Context, id, stamp string, at time.Time) error {
	return r.update(ctx, id, bson.D{{Key: "security_stamp", Value: stamp}, {Key: "updated_at", Value: at}})
}

// CountAdmins counts enabled admins.
func (r *Users) CountAdmins(ctx context.Context) (_ int64, err error) {
	done, err := r.guard.allow("count admins")
	if err != nil {
		return 0, err
	}
	defer func() { done(err) }()
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	n, err := r.coll.CountDocuments(ctx, bson.D{{Key: "role", Value: string(user.RoleAdmin)}, {Key: "disabled", Value: false}})
	if err != nil {
		return 0, unavailable("count admins", err)
	}
	return n, nil
}

// List returns users whose username_norm starts with prefix, in order,
// and how many match. The prefix is a range on the unique index
// ([prefix, prefix+U+10FFFF)), which both MongoDB and FerretDB serve
// without regular expressions.
func (r *Users) List(ctx context.Context, prefix string, skip, limit int64) (_ []*user.User, _ int64, err error) {
	done, err := r.guard.allow("list users")
	if err != nil {
		return nil, 0, err
	}
	defer func() { done(err) }()
	filter := bson.D{}
	if prefix != "" {
		filter = bson.D{{Key: "username_norm", Value: bson.D{{Key: "$gte", Value: prefix}, {Key: "$lt", Value: prefix + "\U0010FFFF"}}}}
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	total, err := r.coll.CountDocuments(ctx, filter)
	if err != nil {
		return nil, 0, unavailable("count users", err)
	}
	opts := options.Find().SetSort(bson.D{{Key: "username_norm", Value: 1}}).SetSkip(skip).SetLimit(limit)
	cur, err := r.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, 0, unavailable("list users", err)
	}
	defer cur.Close(ctx)
	var out []*user.User
	for cur.Next(ctx) {
		var d document
		if err := cur.Decode(&d); err != nil {
			return nil, 0, fmt.Errorf("decode user: %w", err)
		}
		out = append(out, d.user())
	}
	if err := cur.Err(); err != nil {
		return nil, 0, unavailable("list users", err)
	}
	return out, total, nil
}
