// Package mongo stores users in MongoDB with the official driver.
//
// It sticks to what both MongoDB and FerretDB (the development and test
// server) support: no collations, transactions or partial indexes. Usernames
// are unique through a normalised copy (username_norm) under a unique index,
// and look-alike names through their confusable skeleton
// (username_skeleton) under another.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/event"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/readpref"
	"go.mongodb.org/mongo-driver/mongo/writeconcern"

	"github.com/gatehouse/gatehouse/internal/user"
)

// Connect opens a client to uri and checks it with a ping, all within
// timeout. The client's own server selection and socket timeouts are bounded
// too, so that no operation waits forever on a lost server.
//
// On a replica set or a sharded cluster, reads go to the primary whatever
// uri says: a user who has just signed up, or changed a password, must be
// read back at once by every instance, and a secondary may lag. Writes
// default to w:majority, so that an acknowledged sign-up or password change
// survives a failover (MongoDB's own default since 5.0; uri may set w).
//
// A monitor, when given, observes every command (for latency metrics).
func Connect(ctx context.Context, uri string, timeout time.Duration, monitor ...*event.CommandMonitor) (*mongo.Client, error) {
	opts := options.Client().SetWriteConcern(writeconcern.Majority()).ApplyURI(uri).
		SetReadPreference(readpref.Primary()).
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
	logger  *slog.Logger
}

// NewUsers returns the repository over db.users. Every operation runs under
// timeout, or the caller's earlier deadline, behind a circuit breaker that
// fails them at once while MongoDB is known to be down (breaker). logger
// (nil: none) hears when that starts and ends. Close stops the breaker's
// background ping.
func NewUsers(db *mongo.Database, timeout time.Duration, logger *slog.Logger) *Users {
	client := db.Client()
	ping := func(ctx context.Context) error { return client.Ping(ctx, nil) }
	return &Users{coll: db.Collection("users"), timeout: timeout, guard: newBreaker(ping, timeout, logger), logger: logger}
}

// Close stops the background work of the repository; the client stays open.
func (r *Users) Close() { r.guard.close() }

// EnsureIndexes creates the unique indexes on username_norm and
// username_skeleton, and gives users stored before skeletons theirs
// (migrateSkeletons). It is idempotent: creating an index that exists with
// the same definition is a no-op, and users that have a skeleton are left
// alone. Look-alike users are logged, never fatal.
func (r *Users) EnsureIndexes(ctx context.Context) error {
	// The skeleton index is sparse: on MongoDB, a unique index counts a
	// missing field as null and would allow one user without a skeleton.
	// (FerretDB ignores sparse and lets any number lack the field.)
	// One at a time: FerretDB 1.24 crashed here (slice bounds out of
	// range) on one createIndexes with both.
	for _, m := range []mongo.IndexModel{
		{
			Keys:    bson.D{{Key: "username_norm", Value: 1}},
			Options: options.Index().SetName("username_norm_unique").SetUnique(true),
		},
		{
			Keys:    bson.D{{Key: "username_skeleton", Value: 1}},
			Options: options.Index().SetName("username_skeleton_unique").SetUnique(true).SetSparse(true),
		},
		// Verified addresses, unique in their normalised form and in their
		// confusable skeleton. Optional fields, stored only when set, under
		// sparse indexes, as username_skeleton.
		{
			Keys:    bson.D{{Key: "email_norm", Value: 1}},
			Options: options.Index().SetName("email_norm_unique").SetUnique(true).SetSparse(true),
		},
		{
			Keys:    bson.D{{Key: "email_skeleton", Value: 1}},
			Options: options.Index().SetName("email_skeleton_unique").SetUnique(true).SetSparse(true),
		},
	} {
		ictx, cancel := context.WithTimeout(ctx, r.timeout)
		_, err := r.coll.Indexes().CreateOne(ictx, m)
		cancel()
		if err != nil {
			return fmt.Errorf("create users index %s: %w", *m.Options.Name, err)
		}
	}
	return r.migrateSkeletons(ctx)
}

// migrateSkeletons sets the skeleton of each user that lacks one, oldest
// (smallest id) first, in pages, each call under its own deadline.
//
// It runs after the unique index is built, which it can be whatever the
// data: users without a skeleton are not in the sparse index. So MongoDB
// itself refuses a skeleton another user holds, atomically, even while new
// users register or another instance migrates at the same time. Such a
// user (a look-alike of an older one, or of a newer one registered with a
// skeleton) is left without one, and a warning names both, at every
// start-up until one is renamed: both can still sign in, and no new
// look-alike of either can register.
func (r *Users) migrateSkeletons(ctx context.Context) error {
	const page = 200
	logger := r.logger
	if logger == nil {
		logger = slog.Default()
	}
	filled, clashes := 0, 0
	after := primitive.NilObjectID
	for {
		batch, err := r.lackingSkeleton(ctx, after, page)
		if err != nil {
			return err
		}
		for _, d := range batch {
			after = d.ID
			skeleton := user.Skeleton(d.UsernameNorm)
			if skeleton == "" {
				continue
			}
			// Look first, for the warning and because FerretDB's
			// error for an update that breaks the index is vague; the
			// index still decides a race.
			holder, err := r.skeletonHolder(ctx, skeleton)
			if err == nil && holder == nil {
				err = r.setSkeleton(ctx, d.ID, skeleton)
				if isDuplicate(err) {
					holder, err = r.skeletonHolder(ctx, skeleton)
				}
			}
			if err != nil {
				return err
			}
			if holder == nil {
				filled++
				continue
			}
			clashes++
			logger.Warn("two users have look-alike names; this one keeps its name but not the confusable skeleton, which the other holds: consider renaming one",
				"username", d.Username, "user_id", d.ID.Hex(), "looks_like", holder.Username, "looks_like_id", holder.ID.Hex(), "skeleton", skeleton)
		}
		if len(batch) < page {
			break
		}
	}
	if filled > 0 || clashes > 0 {
		logger.Info("filled in username skeletons", "filled", filled, "look_alikes", clashes)
	}
	return nil
}

// lackingSkeleton returns up to n users without a skeleton whose id is
// above after, in id order: their id and names only.
func (r *Users) lackingSkeleton(ctx context.Context, after primitive.ObjectID, n int64) ([]document, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	filter := bson.D{{Key: "username_skeleton", Value: bson.D{{Key: "$exists", Value: false}}}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(n).
		SetProjection(bson.D{{Key: "username", Value: 1}, {Key: "username_norm", Value: 1}})
	cur, err := r.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, unavailable("find users without a skeleton", err)
	}
	var out []document
	if err := cur.All(ctx, &out); err != nil {
		return nil, unavailable("find users without a skeleton", err)
	}
	return out, nil
}

// setSkeleton sets the skeleton of user id if it has none yet. A
// duplicate is returned as the driver reports it (see isDuplicate).
func (r *Users) setSkeleton(ctx context.Context, id primitive.ObjectID, skeleton string) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	_, err := r.coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "username_skeleton", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "username_skeleton", Value: skeleton}}}})
	if err != nil && !isDuplicate(err) {
		return unavailable("set username skeleton", err)
	}
	return err
}

// skeletonHolder returns the user who holds skeleton (id and names only),
// or nil.
func (r *Users) skeletonHolder(ctx context.Context, skeleton string) (*document, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var d document
	opts := options.FindOne().SetProjection(bson.D{{Key: "username", Value: 1}, {Key: "username_norm", Value: 1}})
	err := r.coll.FindOne(ctx, bson.D{{Key: "username_skeleton", Value: skeleton}}, opts).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("find username skeleton", err)
	}
	return &d, nil
}

// document is the stored shape of a user.
type document struct {
	ID           primitive.ObjectID `bson:"_id,omitempty"`
	Username     string             `bson:"username"`
	UsernameNorm string             `bson:"username_norm"`
	// Absent, not empty, when unknown: the sparse unique index skips it.
	UsernameSkeleton string     `bson:"username_skeleton,omitempty"`
	PasswordHash     string     `bson:"password_hash"`
	Role             string     `bson:"role"`
	CreatedAt        time.Time  `bson:"created_at"`
	UpdatedAt        time.Time  `bson:"updated_at"`
	LastLoginAt      *time.Time `bson:"last_login_at"`
	Disabled         bool       `bson:"disabled"`
	Stamp            string     `bson:"security_stamp,omitempty"`
	// The verified address and its unique forms, absent when there is
	// none (the sparse unique indexes skip documents without them).
	Email           string     `bson:"email,omitempty"`
	EmailNorm       string     `bson:"email_norm,omitempty"`
	EmailSkeleton   string     `bson:"email_skeleton,omitempty"`
	EmailVerifiedAt *time.Time `bson:"email_verified_at,omitempty"`
	// An address waiting for verification; not unique.
	EmailPending string `bson:"email_pending,omitempty"`
}

func toDocument(u *user.User) document {
	d := document{
		Username:         u.Username,
		UsernameNorm:     u.UsernameNorm,
		UsernameSkeleton: u.UsernameSkeleton,
		PasswordHash:     u.PasswordHash,
		Role:             string(u.Role),
		CreatedAt:        u.CreatedAt,
		UpdatedAt:        u.UpdatedAt,
		Disabled:         u.Disabled,
		Stamp:            u.SecurityStamp,
		Email:            u.Email,
		EmailNorm:        u.EmailNorm,
		EmailSkeleton:    u.EmailSkeleton,
		EmailPending:     u.EmailPending,
	}
	if !u.EmailVerifiedAt.IsZero() {
		t := u.EmailVerifiedAt
		d.EmailVerifiedAt = &t
	}
	if !u.LastLoginAt.IsZero() {
		t := u.LastLoginAt
		d.LastLoginAt = &t
	}
	return d
}

func (d document) user() *user.User {
	u := &user.User{
		ID:               d.ID.Hex(),
		Username:         d.Username,
		UsernameNorm:     d.UsernameNorm,
		UsernameSkeleton: d.UsernameSkeleton,
		PasswordHash:     d.PasswordHash,
		Role:             user.Role(d.Role),
		CreatedAt:        d.CreatedAt.UTC(),
		UpdatedAt:        d.UpdatedAt.UTC(),
		Disabled:         d.Disabled,
		SecurityStamp:    d.Stamp,
		Email:            d.Email,
		EmailNorm:        d.EmailNorm,
		EmailSkeleton:    d.EmailSkeleton,
		EmailPending:     d.EmailPending,
	}
	if d.EmailVerifiedAt != nil {
		u.EmailVerifiedAt = d.EmailVerifiedAt.UTC()
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

// ByEmailNorm finds the user whose verified address has the normalised
// form norm.
func (r *Users) ByEmailNorm(ctx context.Context, norm string) (*user.User, error) {
	if norm == "" {
		return nil, user.ErrNotFound
	}
	return r.findOne(ctx, bson.D{{Key: "email_norm", Value: norm}})
}

// SetPendingEmail records addr as the address of user id that waits for
// verification.
func (r *Users) SetPendingEmail(ctx context.Context, id, addr string, at time.Time) error {
	return r.update(ctx, id, bson.D{{Key: "email_pending", Value: addr}, {Key: "updated_at", Value: at}})
}

// VerifyEmail makes a the verified address of user id if its pending
// address is still a.Address, in one update. A duplicate of another
// user's address (or skeleton) is user.ErrEmailTaken; a pending address
// that changed meanwhile is user.ErrEmailChanged.
func (r *Users) VerifyEmail(ctx context.Context, id string, a user.Address, at time.Time) (err error) {
	oid, err := primitive.ObjectIDFromHex(id)
	if err != nil {
		return user.ErrNotFound
	}
	done, err := r.guard.allow("verify email")
	if err != nil {
		return err
	}
	defer func() {
		if errors.Is(err, user.ErrEmailTaken) || errors.Is(err, user.ErrEmailChanged) {
			done(nil) // MongoDB answered
			return
		}
		done(err)
	}()
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res, err := r.coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: oid}, {Key: "email_pending", Value: a.Address}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "email", Value: a.Address}, {Key: "email_norm", Value: a.Norm},
				{Key: "email_skeleton", Value: a.Skeleton}, {Key: "email_verified_at", Value: at}, {Key: "updated_at", Value: at}}},
			{Key: "$unset", Value: bson.D{{Key: "email_pending", Value: ""}}},
		})
	if isDuplicate(err) {
		return user.ErrEmailTaken
	}
	if err != nil {
		return unavailable("verify email", err)
	}
	if res.MatchedCount == 0 {
		return user.ErrEmailChanged
	}
	return nil
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
// mongo.IsDuplicateKeyError does not always catch, so check both. An
// update that breaks a unique index is, on FerretDB 1.24, an InternalError
// that carries its backend's message (SQLite's or PostgreSQL's).
func isDuplicate(err error) bool {
	if err == nil {
		return false
	}
	if mongo.IsDuplicateKeyError(err) {
		return true
	}
	ce, ok := errors.AsType[mongo.CommandError](err)
	if !ok {
		return false
	}
	return ce.Code == 11000 || ce.Name == "InternalError" &&
		(strings.Contains(ce.Message, "UNIQUE constraint failed") || strings.Contains(ce.Message, "duplicate key value violates unique constraint"))
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
