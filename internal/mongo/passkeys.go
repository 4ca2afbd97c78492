package mongo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/gatehouse/gatehouse/internal/passkey"
)

// Passkeys is the passkey.Repository over the passkeys collection: one
// document per WebAuthn credential, unique by credential id (in base64url,
// a string both MongoDB and FerretDB index alike), found by user id.
type Passkeys struct {
	coll    *mongo.Collection
	timeout time.Duration
}

// NewPasskeys returns the repository over db.passkeys; every operation
// runs under timeout, or the caller's earlier deadline.
func NewPasskeys(db *mongo.Database, timeout time.Duration) *Passkeys {
	return &Passkeys{coll: db.Collection("passkeys"), timeout: timeout}
}

// EnsureIndexes creates the unique index on credential_id and the index
// on user_id; it is idempotent.
func (r *Passkeys) EnsureIndexes(ctx context.Context) error {
	for _, m := range []mongo.IndexModel{
		{Keys: bson.D{{Key: "credential_id", Value: 1}}, Options: options.Index().SetName("credential_id_unique").SetUnique(true)},
		{Keys: bson.D{{Key: "user_id", Value: 1}}, Options: options.Index().SetName("user_id")},
	} {
		ictx, cancel := context.WithTimeout(ctx, r.timeout)
		_, err := r.coll.Indexes().CreateOne(ictx, m)
		cancel()
		if err != nil {
			return fmt.Errorf("create passkeys index %s: %w", *m.Options.Name, err)
		}
	}
	return nil
}

// passkeyDoc is the stored shape of a passkey. The signature counter and
// the backup flags are copied out of the record for people reading the
// database; the record (go-webauthn's credential, as JSON) is what counts.
type passkeyDoc struct {
	CredentialID   string     `bson:"credential_id"`
	UserID         string     `bson:"user_id"`
	Name           string     `bson:"name"`
	CreatedAt      time.Time  `bson:"created_at"`
	LastUsedAt     *time.Time `bson:"last_used_at,omitempty"`
	SignCount      int64      `bson:"sign_count"`
	BackupEligible bool       `bson:"backup_eligible"`
	BackupState    bool       `bson:"backup_state"`
	Record         []byte     `bson:"record"`
}

func toPasskeyDoc(c *passkey.Credential) (passkeyDoc, error) {
	rec, err := json.Marshal(c.Record)
	if err != nil {
		return passkeyDoc{}, fmt.Errorf("encode passkey record: %w", err)
	}
	d := passkeyDoc{
		CredentialID:   base64.RawURLEncoding.EncodeToString(c.ID),
		UserID:         c.UserID,
		Name:           c.Name,
		CreatedAt:      c.CreatedAt,
		SignCount:      int64(c.Record.Authenticator.SignCount),
		BackupEligible: c.Record.Flags.BackupEligible,
		BackupState:    c.Record.Flags.BackupState,
		Record:         rec,
	}
	if !c.LastUsedAt.IsZero() {
		t := c.LastUsedAt
		d.LastUsedAt = &t
	}
	return d, nil
}

func (d passkeyDoc) credential() (*passkey.Credential, error) {
	id, err := base64.RawURLEncoding.DecodeString(d.CredentialID)
	if err != nil {
		return nil, fmt.Errorf("decode passkey id: %w", err)
	}
	var rec webauthn.Credential
	if err := json.Unmarshal(d.Record, &rec); err != nil {
		return nil, fmt.Errorf("decode passkey record: %w", err)
	}
	c := &passkey.Credential{ID: id, UserID: d.UserID, Name: d.Name, CreatedAt: d.CreatedAt.UTC(), Record: rec}
	if d.LastUsedAt != nil {
		c.LastUsedAt = d.LastUsedAt.UTC()
	}
	return c, nil
}

// Create stores c; a credential id stored already is passkey.ErrExists.
func (r *Passkeys) Create(ctx context.Context, c *passkey.Credential) error {
	d, err := toPasskeyDoc(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	_, err = r.coll.InsertOne(ctx, d)
	if isDuplicate(err) {
		return passkey.ErrExists
	}
	if err != nil {
		return unavailable("insert passkey", err)
	}
	return nil
}

// ByUser lists the user's passkeys, oldest first.
func (r *Passkeys) ByUser(ctx context.Context, userID string) ([]passkey.Credential, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	cur, err := r.coll.Find(ctx, bson.D{{Key: "user_id", Value: userID}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(100))
	if err != nil {
		return nil, unavailable("list passkeys", err)
	}
	var docs []passkeyDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, unavailable("list passkeys", err)
	}
	out := make([]passkey.Credential, 0, len(docs))
	for _, d := range docs {
		c, err := d.credential()
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
}

// ByID finds a passkey by its credential id, or passkey.ErrNotFound.
func (r *Passkeys) ByID(ctx context.Context, id []byte) (*passkey.Credential, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var d passkeyDoc
	err := r.coll.FindOne(ctx, bson.D{{Key: "credential_id", Value: base64.RawURLEncoding.EncodeToString(id)}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, passkey.ErrNotFound
	}
	if err != nil {
		return nil, unavailable("find passkey", err)
	}
	return d.credential()
}

// Used stores c's record (signature counter, backup state) and time of
// last use; passkey.ErrNotFound when it was removed meanwhile.
func (r *Passkeys) Used(ctx context.Context, c *passkey.Credential) error {
	d, err := toPasskeyDoc(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res, err := r.coll.UpdateOne(ctx,
		bson.D{{Key: "credential_id", Value: d.CredentialID}, {Key: "user_id", Value: d.UserID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "record", Value: d.Record}, {Key: "last_used_at", Value: c.LastUsedAt},
			{Key: "sign_count", Value: d.SignCount}, {Key: "backup_state", Value: d.BackupState}}}})
	if err != nil {
		return unavailable("update passkey", err)
	}
	if res.MatchedCount == 0 {
		return passkey.ErrNotFound
	}
	return nil
}

// Delete removes the user's passkey id, or returns passkey.ErrNotFound.
func (r *Passkeys) Delete(ctx context.Context, userID string, id []byte) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res, err := r.coll.DeleteOne(ctx, bson.D{{Key: "credential_id", Value: base64.RawURLEncoding.EncodeToString(id)}, {Key: "user_id", Value: userID}})
	if err != nil {
		return unavailable("delete passkey", err)
	}
	if res.DeletedCount == 0 {
		return passkey.ErrNotFound
	}
	return nil
}

// DeleteAll removes every passkey of the user.
func (r *Passkeys) DeleteAll(ctx context.Context, userID string) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if _, err := r.coll.DeleteMany(ctx, bson.D{{Key: "user_id", Value: userID}}); err != nil {
		return unavailable("delete passkeys", err)
	}
	return nil
}

// Count counts the user's passkeys.
func (r *Passkeys) Count(ctx context.Context, userID string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	n, err := r.coll.CountDocuments(ctx, bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		return 0, unavailable("count passkeys", err)
	}
	return int(n), nil
}
