package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	mongodriver "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/readpref"

	"github.com/gatehouse/gatehouse/internal/mongo"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/user"
)

func newUsers(t testing.TB) *mongo.Users {
	t.Helper()
	return newUsersTimeout(t, 5*time.Second)
}

// newUsersTimeout is newUsers with the repository's timeout d.
func newUsersTimeout(t testing.TB, d time.Duration) *mongo.Users {
	t.Helper()
	users, _, _ := newUsersBare(t, d)
	// Twice: start-up must be idempotent.
	for range 2 {
		if err := users.EnsureIndexes(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return users
}

// newUsersBare returns the repository before EnsureIndexes, the users
// collection itself (to store documents as older versions did), and the
// repository's log.
func newUsersBare(t testing.TB, timeout time.Duration) (*mongo.Users, *mongodriver.Collection, *testenv.LogBuffer) {
	t.Helper()
	uri, db := testenv.Mongo(t)
	client, err := mongo.Connect(context.Background(), uri, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	logs := &testenv.LogBuffer{}
	users := mongo.NewUsers(client.Database(db), timeout, slog.New(slog.NewTextHandler(logs, nil)))
	t.Cleanup(users.Close)
	return users, client.Database(db).Collection("users"), logs
}

func TestCreateAndFind(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	u := &user.User{Username: "Alice", UsernameNorm: "alice", PasswordHash: "h", Role: user.RoleUser, CreatedAt: now, UpdatedAt: now}
	if err := users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	if u.ID == "" {
		t.Fatal("Create did not set ID")
	}
	got, err := users.ByUsernameNorm(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || got.Username != "Alice" || got.Role != user.RoleUser || !got.CreatedAt.Equal(now) || !got.LastLoginAt.IsZero() {
		t.Fatalf("got %+v, want %+v", got, u)
	}
	byID, err := users.ByID(ctx, u.ID)
	if err != nil || byID.UsernameNorm != "alice" {
		t.Fatalf("ByID: got %+v, %v", byID, err)
	}

	for _, id := range []string{"nope", "000000000000000000000000", `{"$ne":null}`} {
		if _, err := users.ByID(ctx, id); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("ByID(%q): got %v, want ErrNotFound", id, err)
		}
	}
	if _, err := users.ByUsernameNorm(ctx, "bob"); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("got %v, want ErrNotFound", err)
	}
}

func TestDuplicateUsername(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	ctx := context.Background()
	if err := users.Create(ctx, &user.User{Username: "bob", UsernameNorm: "bob", Role: user.RoleUser}); err != nil {
		t.Fatal(err)
	}
	err := users.Create(ctx, &user.User{Username: "BOB", UsernameNorm: "bob", Role: user.RoleUser})
	if !errors.Is(err, user.ErrUsernameTaken) {
		t.Fatalf("got %v, want ErrUsernameTaken", err)
	}
}

// TestSkeletonUnique: two names with one confusable skeleton cannot both
// be stored, while any number of users may lack a skeleton (the index is
// sparse: on MongoDB a plain unique index would allow only one).
func TestSkeletonUnique(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	ctx := context.Background()
	if err := users.Create(ctx, &user.User{Username: "y1234", UsernameNorm: "y1234", UsernameSkeleton: "yl234", Role: user.RoleUser}); err != nil {
		t.Fatal(err)
	}
	got, err := users.ByUsernameNorm(ctx, "y1234")
	if err != nil || got.UsernameSkeleton != "yl234" {
		t.Fatalf("got %+v, %v; want the skeleton yl234 stored", got, err)
	}
	err = users.Create(ctx, &user.User{Username: "у1234", UsernameNorm: "у1234", UsernameSkeleton: "yl234", Role: user.RoleUser})
	if !errors.Is(err, user.ErrUsernameTaken) {
		t.Fatalf("a second name with the skeleton yl234: got %v, want ErrUsernameTaken", err)
	}
	for _, name := range []string{"old1", "old2", "old3"} {
		if err := users.Create(ctx, &user.User{Username: name, UsernameNorm: name, Role: user.RoleUser}); err != nil {
			t.Fatalf("a user without a skeleton: %v", err)
		}
	}

	// The service on the real repository.
	h, _ := password.New(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	svc := user.NewService(users, h, time.Now)
	if _, err := svc.Register(ctx, "раураl", "staple-gun-orbit"); err == nil {
		t.Fatal("a mixed-script name was registered")
	}
	for _, first := range []string{"paypal", "coco"} {
		if _, err := svc.Register(ctx, first, "staple-gun-orbit"); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"PAYPA1", "сосо"} { // 1 for l; all Cyrillic
		if _, err := svc.Register(ctx, name, "staple-gun-orbit"); !errors.Is(err, user.ErrUsernameTaken) {
			t.Errorf("Register(%q): got %v, want ErrUsernameTaken", name, err)
		}
	}
}

// TestSkeletonMigration: at start-up, users stored before skeletons get
// theirs, oldest first. Of two that look alike, the older keeps the name's
// skeleton and the younger is left without one and named in a warning;
// start-up goes on, and the unique index holds from then on.
func TestSkeletonMigration(t *testing.T) {
	t.Parallel()
	users, coll, logs := newUsersBare(t, 5*time.Second)
	ctx := context.Background()
	// As the previous version stored them: no username_skeleton. In
	// insertion order, which is the order of their ids. Dave0 came last,
	// from an instance of this version (during a rolling deploy), with
	// its skeleton, after daveo from an older one.
	for _, name := range []string{"y1234", "alice", "у1234", "bob1", "bobl", "carol", "daveo", "Dave0"} {
		norm, err := user.NormalizeUsername(name)
		if err != nil {
			t.Fatal(err)
		}
		doc := bson.D{
			{Key: "username", Value: name}, {Key: "username_norm", Value: norm}, {Key: "password_hash", Value: "h"},
			{Key: "role", Value: "user"}, {Key: "created_at", Value: time.Now()}, {Key: "updated_at", Value: time.Now()},
			{Key: "last_login_at", Value: nil}, {Key: "disabled", Value: false},
		}
		if name == "Dave0" {
			doc = append(doc, bson.E{Key: "username_skeleton", Value: user.Skeleton(norm)})
		}
		if _, err := coll.InsertOne(ctx, doc); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // idempotent
		if err := users.EnsureIndexes(ctx); err != nil {
			t.Fatalf("start-up failed over look-alike users: %v", err)
		}
	}
	tests := []struct{ norm, skeleton string }{
		{"y1234", "yl234"},
		{"alice", "alice"},
		{"у1234", ""}, // looks like y1234, registered later
		{"bob1", "bobl"},
		{"bobl", ""}, // looks like bob1
		{"carol", "carol"},
		{"daveo", ""}, // looks like Dave0, which holds the skeleton
		{"dave0", "daveo"},
	}
	for _, tt := range tests {
		u, err := users.ByUsernameNorm(ctx, tt.norm)
		if err != nil {
			t.Fatal(err)
		}
		if u.UsernameSkeleton != tt.skeleton {
			t.Errorf("%s: got skeleton %q, want %q", tt.norm, u.UsernameSkeleton, tt.skeleton)
		}
	}
	log := logs.String()
	for _, pair := range [][2]string{{"у1234", "y1234"}, {"bobl", "bob1"}, {"daveo", "Dave0"}} {
		found := false
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, "level=WARN") && strings.Contains(line, pair[0]) && strings.Contains(line, pair[1]) {
				found = true
			}
		}
		if !found {
			t.Errorf("no warning names %s and %s; log:\n%s", pair[0], pair[1], log)
		}
	}
	// The index holds: a new look-alike of an old name is taken.
	if err := users.Create(ctx, &user.User{Username: "ALICE", UsernameNorm: "a1ice", UsernameSkeleton: "alice", Role: user.RoleUser}); !errors.Is(err, user.ErrUsernameTaken) {
		t.Fatalf("a look-alike after the migration: got %v, want ErrUsernameTaken", err)
	}
}

func TestConcurrentRegistrationOneWins(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			errs <- users.Create(context.Background(), &user.User{Username: "carol", UsernameNorm: "carol", Role: user.RoleUser})
		})
	}
	wg.Wait()
	close(errs)
	ok, taken := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, user.ErrUsernameTaken):
			taken++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || taken != 7 {
		t.Fatalf("got %d created and %d taken, want 1 and 7", ok, taken)
	}
}

func TestRecordLogin(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	ctx := context.Background()
	u := &user.User{Username: "dave", UsernameNorm: "dave", PasswordHash: "old", Role: user.RoleUser}
	if err := users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	if err := users.RecordLogin(ctx, u.ID, at, ""); err != nil {
		t.Fatal(err)
	}
	got, _ := users.ByID(ctx, u.ID)
	if !got.LastLoginAt.Equal(at) || got.PasswordHash != "old" {
		t.Fatalf("got last login %v hash %q, want %v and old", got.LastLoginAt, got.PasswordHash, at)
	}
	if err := users.RecordLogin(ctx, u.ID, at, "new"); err != nil {
		t.Fatal(err)
	}
	if got, _ := users.ByID(ctx, u.ID); got.PasswordHash != "new" {
		t.Fatalf("got hash %q, want new", got.PasswordHash)
	}
	if err := users.RecordLogin(ctx, "000000000000000000000000", at, ""); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
}

// TestServiceEndToEnd runs the domain service on the real repository.
func TestServiceEndToEnd(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	h, err := password.New(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	svc := user.NewService(users, h, func() time.Time { return clock })
	ctx := context.Background()

	if _, err := svc.Register(ctx, "Erin", "lantern-one"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Register(ctx, "ERIN", "lantern-two"); !errors.Is(err, user.ErrUsernameTaken) {
		t.Fatalf("second registration: got %v, want ErrUsernameTaken", err)
	}
	var ve *user.ValidationError
	if _, err := svc.Register(ctx, "frank", "short"); !errors.As(err, &ve) || ve.Field != "password" {
		t.Fatalf("short password: got %v, want a password ValidationError", err)
	}

	clock = clock.Add(time.Hour)
	u, err := svc.Authenticate(ctx, "erin", "lantern-one")
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "Erin" || !u.LastLoginAt.IsZero() {
		t.Fatalf("first login: got %q last login %v, want Erin and zero", u.Username, u.LastLoginAt)
	}
	clock = clock.Add(time.Hour)
	u, err = svc.Authenticate(ctx, "ERIN", "lantern-one")
	if err != nil || !u.LastLoginAt.Equal(clock.Add(-time.Hour)) {
		t.Fatalf("second login: got %v, %v; want previous login %v", u, err, clock.Add(-time.Hour))
	}

	for _, c := range []struct{ name, pw string }{
		{"erin", "wrong-password"},
		{"nobody", "lantern-one"},
		{"x", "lantern-one"},
		{"erin", string(make([]byte, 5000))},
	} {
		if _, err := svc.Authenticate(ctx, c.name, c.pw); !errors.Is(err, user.ErrInvalidCredentials) {
			t.Errorf("Authenticate(%q): got %v, want ErrInvalidCredentials", c.name, err)
		}
	}
}

func TestRehashOnLogin(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	weak, _ := password.New(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	strong, _ := password.New(password.Params{Memory: 128, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	ctx := context.Background()
	if _, err := user.NewService(users, weak, time.Now).Register(ctx, "gina", "lantern-one"); err != nil {
		t.Fatal(err)
	}
	if _, err := user.NewService(users, strong, time.Now).Authenticate(ctx, "gina", "lantern-one"); err != nil {
		t.Fatal(err)
	}
	u, _ := users.ByUsernameNorm(ctx, "gina")
	if _, rehash, err := strong.Verify("lantern-one", u.PasswordHash); rehash || err != nil {
		t.Fatalf("stored hash %q still needs rehash (err %v)", u.PasswordHash, err)
	}
}

// TestLegacyPasswordRehashed: a hash stored before passwords were
// normalised, of a password typed with n and a combining tilde, still
// signs in as typed, and is then replaced in MongoDB by a hash of the
// composed (NFC) form, which then signs in however ñ is typed.
func TestLegacyPasswordRehashed(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	h, _ := password.New(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	svc := user.NewService(users, h, time.Now)
	ctx := context.Background()
	const decomposed, composed = "man\u0303ana sunrise", "ma\u00f1ana sunrise"
	old, _ := h.Hash(decomposed)
	if err := users.Create(ctx, &user.User{Username: "ines", UsernameNorm: "ines", PasswordHash: old, Role: user.RoleUser}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, "ines", decomposed); err != nil {
		t.Fatalf("the password as first typed: got %v, want nil", err)
	}
	u, _ := users.ByUsernameNorm(ctx, "ines")
	if ok, _, err := h.Verify(composed, u.PasswordHash); !ok || err != nil {
		t.Fatalf("stored hash %q does not verify the NFC form (%v, %v)", u.PasswordHash, ok, err)
	}
	for _, pw := range []string{composed, decomposed} {
		if _, err := svc.Authenticate(ctx, "ines", pw); err != nil {
			t.Errorf("after the rehash, Authenticate(%q): got %v, want nil", pw, err)
		}
	}
}

func TestAdminOperations(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	h, _ := password.New(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	svc := user.NewService(users, h, time.Now)
	ctx := context.Background()
	admin, err := svc.Create(ctx, "root", "password-1", user.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 25 {
		if _, err := svc.Register(ctx, fmt.Sprintf("user%02d", i), "password-1"); err != nil {
			t.Fatal(err)
		}
	}

	// The last admin can be neither demoted nor disabled.
	if _, err := svc.SetRole(ctx, admin.ID, user.RoleUser); !errors.Is(err, user.ErrLastAdmin) {
		t.Fatalf("demote last admin: got %v, want ErrLastAdmin", err)
	}
	if _, err := svc.SetDisabled(ctx, admin.ID, true); !errors.Is(err, user.ErrLastAdmin) {
		t.Fatalf("disable last admin: got %v, want ErrLastAdmin", err)
	}
	second, _ := svc.ByUsername(ctx, "USER00")
	if _, err := svc.SetRole(ctx, second.ID, user.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetDisabled(ctx, admin.ID, true); err != nil {
		t.Fatalf("with two admins, disabling one: %v", err)
	}
	if _, err := svc.SetRole(ctx, second.ID, user.RoleUser); !errors.Is(err, user.ErrLastAdmin) {
		t.Fatalf("the remaining enabled admin: got %v, want ErrLastAdmin", err)
	}
	if _, err := svc.SetDisabled(ctx, admin.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, "root", "password-1"); err != nil {
		t.Fatalf("re-enabled admin cannot sign in: %v", err)
	}
	if _, err := svc.SetDisabled(ctx, second.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, "user00", "password-1"); !errors.Is(err, user.ErrInvalidCredentials) {
		t.Fatalf("disabled user signed in: %v", err)
	}

	// Pages and the prefix filter, in any spelling.
	tests := []struct {
		filter     string
		page       int
		wantTotal  int64
		wantFirst  string
		wantLength int
	}{
		{"", 1, 26, "root", 10},
		{"", 3, 26, "user19", 6},
		{"USER1", 1, 10, "user10", 10},
		{"Ｕｓｅｒ2", 1, 5, "user20", 5},
		{"nobody", 1, 0, "", 0},
		{"$ne", 1, 0, "", 0},
	}
	for _, tt := range tests {
		got, total, err := svc.List(ctx, tt.filter, tt.page, 10)
		if err != nil {
			t.Fatal(err)
		}
		first := ""
		if len(got) > 0 {
			first = got[0].UsernameNorm
		}
		if total != tt.wantTotal || len(got) != tt.wantLength || first != tt.wantFirst {
			t.Errorf("List(%q, %d): got %d users from %q of %d, want %d from %q of %d", tt.filter, tt.page, len(got), first, total, tt.wantLength, tt.wantFirst, tt.wantTotal)
		}
	}
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	h, _ := password.New(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	svc := user.NewService(users, h, time.Now)
	ctx := context.Background()
	u, err := svc.Register(ctx, "pat", "password-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.ChangePassword(ctx, u.ID, "wrong-one", "password-2"); !errors.Is(err, user.ErrWrongPassword) {
		t.Fatalf("got %v, want ErrWrongPassword", err)
	}
	var ve *user.ValidationError
	if err := svc.ChangePassword(ctx, u.ID, "password-1", "short"); !errors.As(err, &ve) {
		t.Fatalf("got %v, want a ValidationError", err)
	}
	if err := svc.ChangePassword(ctx, u.ID, "password-1", "password-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, "pat", "password-1"); !errors.Is(err, user.ErrInvalidCredentials) {
		t.Fatalf("old password still works: %v", err)
	}
	if _, err := svc.Authenticate(ctx, "pat", "password-2"); err != nil {
		t.Fatalf("new password: %v", err)
	}
}

// countingHasher wraps the real hasher and records the most hashes that
// ran at once.
type countingHasher struct {
	*password.Hasher
	mu        sync.Mutex
	now, peak int
}

func (c *countingHasher) enter() {
	c.mu.Lock()
	c.now++
	c.peak = max(c.peak, c.now)
	c.mu.Unlock()
}
func (c *countingHasher) leave() { c.mu.Lock(); c.now--; c.mu.Unlock() }

func (c *countingHasher) Verify(pw, enc string) (bool, bool, error) {
	c.enter()
	defer c.leave()
	return c.Hasher.Verify(pw, enc)
}

func (c *countingHasher) VerifyDummy(pw string) {
	c.enter()
	defer c.leave()
	c.Hasher.VerifyDummy(pw)
}

// TestHashingIsBounded: a burst of logins runs at most n argon2id hashes
// at once; those that cannot get a slot in time fail with ErrBusy.
func TestHashingIsBounded(t *testing.T) {
	t.Parallel()
	users := newUsers(t)
	real, err := password.New(password.OWASP)
	if err != nil {
		t.Fatal(err)
	}
	h := &countingHasher{Hasher: real}
	svc := user.NewService(users, h, time.Now).LimitHashing(2, 30*time.Millisecond)
	ctx := context.Background()
	if _, err := svc.Register(ctx, "flooded", "password-1"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make(chan error, 24)
	for i := range 24 {
		wg.Go(func() {
			pw := "password-1"
			if i%2 == 0 {
				pw = "wrong-pass"
			}
			_, err := svc.Authenticate(ctx, "flooded", pw)
			results <- err
		})
	}
	wg.Wait()
	close(results)
	ok, busy := 0, 0
	for err := range results {
		switch {
		case err == nil || errors.Is(err, user.ErrInvalidCredentials):
			ok++
		case errors.Is(err, user.ErrBusy):
			busy++
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
	if h.peak > 2 {
		t.Fatalf("%d hashes ran at once, want at most 2", h.peak)
	}
	if ok == 0 || busy == 0 {
		t.Fatalf("got %d served and %d busy; want both (24 hashes of ~50 ms cannot all queue 30 ms)", ok, busy)
	}
	t.Logf("24 concurrent logins, 2 slots, 30 ms queue: %d served, %d busy, peak %d", ok, busy, h.peak)
}

// TestConnectConcerns: reads go to the primary whatever the URI asks (a new
// user must be readable at once), and writes default to w:majority unless
// the URI sets w.
func TestConnectConcerns(t *testing.T) {
	t.Parallel()
	uri, db := testenv.Mongo(t)
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	for _, tt := range []struct {
		query string
		wantW any
	}{{"", "majority"}, {"readPreference=secondaryPreferred", "majority"}, {"w=1", 1}} {
		u := uri
		if tt.query != "" {
			u += sep + tt.query
		}
		client, err := mongo.Connect(context.Background(), u, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		d := client.Database(db)
		if got := d.ReadPreference().Mode(); got != readpref.PrimaryMode {
			t.Errorf("%q: read preference %v, want primary", tt.query, got)
		}
		if wc := d.WriteConcern(); wc == nil || wc.W != tt.wantW {
			t.Errorf("%q: write concern %+v, want w=%v", tt.query, wc, tt.wantW)
		}
		_ = client.Disconnect(context.Background())
	}
}
