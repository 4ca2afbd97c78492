package user_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/user"
)

// The rules of the service, on an in-memory repository. The same service
// runs on FerretDB in internal/mongo's tests.

// fastHash keeps the tests quick; production uses password.OWASP.
var fastHash = password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// memRepo is the part of a user.Repository that registering, signing in
// and changing a password use, in memory, unique on the normalised name
// and on the skeleton. The other methods are the embedded interface's,
// nil: they are not called here.
type memRepo struct {
	user.Repository
	mu    sync.Mutex
	users map[string]*user.User // by id
	next  int
}

func newMemRepo() *memRepo { return &memRepo{users: map[string]*user.User{}} }

func (m *memRepo) Create(_ context.Context, u *user.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.users {
		if o.UsernameNorm == u.UsernameNorm || u.UsernameSkeleton != "" && o.UsernameSkeleton == u.UsernameSkeleton {
			return user.ErrUsernameTaken
		}
	}
	m.next++
	u.ID = strings.Repeat("0", 23) + string(rune('0'+m.next))
	c := *u
	m.users[u.ID] = &c
	return nil
}

func (m *memRepo) ByUsernameNorm(_ context.Context, norm string) (*user.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range m.users {
		if u.UsernameNorm == norm {
			c := *u
			return &c, nil
		}
	}
	return nil, user.ErrNotFound
}

func (m *memRepo) ByID(_ context.Context, id string) (*user.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return nil, user.ErrNotFound
	}
	c := *u
	return &c, nil
}

func (m *memRepo) update(id string, f func(*user.User)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return user.ErrNotFound
	}
	f(u)
	return nil
}

func (m *memRepo) RecordLogin(_ context.Context, id string, at time.Time, newHash string) error {
	return m.update(id, func(u *user.User) {
		u.LastLoginAt = at
		if newHash != "" {
			u.PasswordHash = newHash
		}
	})
}

func (m *memRepo) SetPasswordHash(_ context.Context, id, hash string, at time.Time) error {
	return m.update(id, func(u *user.User) { u.PasswordHash, u.UpdatedAt = hash, at })
}

// SetPassword sets a new password's hash and a security stamp, for a
// repository that keeps one.
func (m *memRepo) SetPassword(ctx context.Context, id, hash, _ string, at time.Time) error {
	return m.SetPasswordHash(ctx, id, hash, at)
}

// newService returns a service on a fresh in-memory repository.
func newService(t *testing.T) (*user.Service, *memRepo, *password.Hasher) {
	t.Helper()
	h, err := password.New(fastHash)
	if err != nil {
		t.Fatal(err)
	}
	repo := newMemRepo()
	return user.NewService(repo, h, time.Now), repo, h
}

// wantValidation fails the test unless err is a ValidationError on field
// whose message contains want.
func wantValidation(t *testing.T, err error, field, want string) {
	t.Helper()
	ve, ok := errors.AsType[*user.ValidationError](err)
	if !ok || ve.Field != field || !strings.Contains(ve.Message, want) {
		t.Fatalf("got %v, want a %s ValidationError saying %q", err, field, want)
	}
}

// TestPasswordContainsUsername: a password that contains the name, in any
// case or width, is refused at sign-up.
func TestPasswordContainsUsername(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, username, password string
		refused                  bool
	}{
		{"equal", "lanternfish", "lanternfish", true},
		{"equal in another case", "lanternfish", "LanternFish", true},
		{"inside", "alice", "my-alice-secret", true},
		{"name typed in capitals", "ALICE", "my-alice-secret", true},
		{"password in capitals", "alice", "MY-ALICE-SECRET", true},
		{"full-width in the password", "alice", "my-ａｌｉｃｅ-secret", true},
		{"accent composed or not", "José", "Jose\u0301 is my name", true},
		{"unrelated", "alice", "correct horse battery", false},
		{"part of the name only", "alice", "my-alic-secret", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, _, _ := newService(t)
			_, err := svc.Register(context.Background(), tt.username, tt.password)
			if tt.refused {
				wantValidation(t, err, "password", msgContainsUsername)
			} else if err != nil {
				t.Fatalf("Register(%q, %q) = %v, want nil", tt.username, tt.password, err)
			}
		})
	}
}

// TestChangePasswordContainsUsername: the same rule at a password change,
// where the service knows only the user's id.
func TestChangePasswordContainsUsername(t *testing.T) {
	t.Parallel()
	svc, _, _ := newService(t)
	ctx := context.Background()
	u, err := svc.Register(ctx, "Alice", "staple-gun-orbit")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		next    string
		refused bool
	}{
		{"my-alice-secret", true},
		{"ALICE-ALICE", true},
		{"correct horse battery", false},
	}
	for _, tt := range tests {
		err := svc.ChangePassword(ctx, u.ID, "staple-gun-orbit", tt.next)
		if tt.refused {
			wantValidation(t, err, "password", msgContainsUsername)
			continue
		}
		if err != nil {
			t.Fatalf("ChangePassword(%q) = %v, want nil", tt.next, err)
		}
		if err := svc.CheckPassword(ctx, u.ID, tt.next); err != nil {
			t.Fatalf("the new password does not work: %v", err)
		}
	}
}

const msgContainsUsername = "Choose a password that does not contain your username"

// TestPasswordNormalised: a password is the same password however its
// characters were composed and whatever spaces were typed (PRECIS
// OpaqueString, RFC 8265), at sign-in and at a password check.
func TestPasswordNormalised(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, registered, typed string
	}{
		{"composed, then decomposed", "ma\u00f1ana sunrise", "man\u0303ana sunrise"},
		{"decomposed, then composed", "man\u0303ana sunrise", "ma\u00f1ana sunrise"},
		{"no-break space, then space", "correct\u00a0horse battery", "correct horse battery"},
		{"space, then ideographic space", "correct horse battery", "correct\u3000horse battery"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, _, _ := newService(t)
			ctx := context.Background()
			name := "walker" + string(rune('a'+i))
			u, err := svc.Register(ctx, name, tt.registered)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Authenticate(ctx, name, tt.typed); err != nil {
				t.Errorf("Authenticate(%q) after registering %q: got %v, want nil", tt.typed, tt.registered, err)
			}
			if err := svc.CheckPassword(ctx, u.ID, tt.typed); err != nil {
				t.Errorf("CheckPassword(%q) after registering %q: got %v, want nil", tt.typed, tt.registered, err)
			}
			if _, err := svc.Authenticate(ctx, name, tt.typed+"x"); !errors.Is(err, user.ErrInvalidCredentials) {
				t.Errorf("a wrong password: got %v, want ErrInvalidCredentials", err)
			}
		})
	}
}

// TestLegacyPasswordHash: a hash stored before passwords were normalised,
// of a password typed with a decomposed accent or an odd space, still
// verifies when the password is typed as before, and is then replaced by a
// hash of the normalised form, which from then on verifies however it is
// typed. At sign-in (Authenticate) and at a password check (CheckPassword).
func TestLegacyPasswordHash(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		typed      string // at registration, hashed as it was
		normalised string // "" when PRECIS refuses it: kept as typed
	}{
		{"decomposed accent", "man\u0303ana sunrise", "ma\u00f1ana sunrise"},
		{"no-break space", "correct\u00a0horse battery", "correct horse battery"},
		{"tab, which PRECIS refuses", "tab\tseparated", ""},
	}
	for _, tt := range tests {
		for _, check := range []string{"Authenticate", "CheckPassword"} {
			t.Run(tt.name+"/"+check, func(t *testing.T) {
				t.Parallel()
				svc, repo, h := newService(t)
				ctx := context.Background()
				old, err := h.Hash(tt.typed)
				if err != nil {
					t.Fatal(err)
				}
				u := &user.User{Username: "legacy", UsernameNorm: "legacy", PasswordHash: old, Role: user.RoleUser}
				if err := repo.Create(ctx, u); err != nil {
					t.Fatal(err)
				}
				if check == "Authenticate" {
					_, err = svc.Authenticate(ctx, "legacy", tt.typed)
				} else {
					err = svc.CheckPassword(ctx, u.ID, tt.typed)
				}
				if err != nil {
					t.Fatalf("%s with the password as first typed: got %v, want nil", check, err)
				}
				stored, _ := repo.ByID(ctx, u.ID)
				if tt.normalised == "" {
					if stored.PasswordHash != old {
						t.Fatalf("got the hash replaced, want the old one kept")
					}
					return
				}
				if stored.PasswordHash == old {
					t.Fatal("got the old hash kept, want a hash of the normalised password")
				}
				if ok, _, err := h.Verify(tt.normalised, stored.PasswordHash); !ok || err != nil {
					t.Fatalf("the new hash does not verify %q: %v, %v", tt.normalised, ok, err)
				}
				if _, err := svc.Authenticate(ctx, "legacy", tt.normalised); err != nil {
					t.Fatalf("after the rehash, the normalised password: got %v, want nil", err)
				}
			})
		}
	}
}

// countingHasher counts verifications, real and dummy.
type countingHasher struct {
	*password.Hasher
	mu sync.Mutex
	n  int
}

func (c *countingHasher) Verify(pw, enc string) (bool, bool, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.Hasher.Verify(pw, enc)
}

func (c *countingHasher) VerifyDummy(pw string) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	c.Hasher.VerifyDummy(pw)
}

func (c *countingHasher) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = 0
	return n
}

// TestFailedSignInCostsTheSame: a password that is not in normal form is
// tried twice (normalised, then as typed, for legacy hashes). An unknown
// name must then cost as many verifications as a wrong password, or the
// time would tell which names exist.
func TestFailedSignInCostsTheSame(t *testing.T) {
	t.Parallel()
	real, err := password.New(fastHash)
	if err != nil {
		t.Fatal(err)
	}
	h := &countingHasher{Hasher: real}
	svc := user.NewService(newMemRepo(), h, time.Now)
	ctx := context.Background()
	if _, err := svc.Register(ctx, "known", "staple-gun-orbit"); err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"wrong password", "wrong man\u0303ana", "wrong\u00a0space", "wrong\ttab", strings.Repeat("x", 300)} {
		h.count()
		_, errKnown := svc.Authenticate(ctx, "known", pw)
		known := h.count()
		_, errUnknown := svc.Authenticate(ctx, "unknown", pw)
		unknown := h.count()
		if !errors.Is(errKnown, user.ErrInvalidCredentials) || !errors.Is(errUnknown, user.ErrInvalidCredentials) {
			t.Fatalf("%q: got %v and %v, want ErrInvalidCredentials twice", pw, errKnown, errUnknown)
		}
		if known != unknown || known == 0 {
			t.Errorf("%q: got %d verifications for a known name and %d for an unknown one, want the same", pw, known, unknown)
		}
	}
}

// TestMixedScripts: a name in one script (with digits, '.', '_' and '-',
// which belong to none) is accepted; a name that mixes scripts, the stuff
// of look-alike names, is refused. Japanese, Chinese and Korean names mix
// Han with their own scripts, and may add Latin (UTS #39's "highly
// restrictive" level).
func TestMixedScripts(t *testing.T) {
	t.Parallel()
	const msg = "Use letters from one alphabet only"
	tests := []struct {
		name    string
		refused bool
	}{
		{"alice", false},
		{"José-2", false},
		{"алиса", false},          // Cyrillic
		{"у1234", false},          // Cyrillic and digits
		{"δέλτα_9", false},        // Greek
		{"やまだタロウ", false},         // Hiragana and Katakana
		{"山田たろう", false},          // Han and Hiragana
		{"김철수", false},            // Hangul
		{"taro.山田", false},        // Latin and Han
		{"раураl", true},          // Cyrillic with a Latin l
		{"аlice", true},           // a Cyrillic а among Latin letters
		{"Ωmega", true},           // Greek and Latin
		{"tаrо.山田", true},         // Cyrillic а and о among Latin and Han
		{"タ김철", true},             // Katakana and Hangul
		{"αλφα-alpha", true},      // Greek and Latin
		{"cafe\u0301-123", false}, // composed to é
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, _, _ := newService(t)
			_, err := svc.Register(context.Background(), tt.name, "staple-gun-orbit")
			if tt.refused {
				wantValidation(t, err, "username", msg)
			} else if err != nil {
				t.Fatalf("Register(%q) = %v, want nil", tt.name, err)
			}
		})
	}
}

// TestSkeleton: names that look alike have one confusable skeleton (UTS
// #39), after the usual normalisation; names that do not, do not.
func TestSkeleton(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		same bool
	}{
		{"y1234", "у1234", true},  // Latin y, Cyrillic у (U+0443)
		{"u1234", "у1234", false}, // Cyrillic у looks like y, not u
		{"u1234", "υ1234", true},  // Greek upsilon
		{"paypal", "раураl", true},
		{"alice", "ALICE", true},
		{"alice", "Ａｌｉｃｅ", true},
		{"bob1", "bobl", true}, // digit one, letter l
		{"bob0", "BOBO", true}, // digit zero, letter O, shown as typed
		{"modern", "rnodern", true},
		{"alice", "alicia", false},
		{"josé", "jose", false},
	}
	for _, tt := range tests {
		na, err := user.NormalizeUsername(tt.a)
		if err != nil {
			t.Fatal(err)
		}
		nb, err := user.NormalizeUsername(tt.b)
		if err != nil {
			t.Fatal(err)
		}
		sa, sb := user.Skeleton(na), user.Skeleton(nb)
		if sa == "" || (sa == sb) != tt.same {
			t.Errorf("Skeleton(%q) = %q, Skeleton(%q) = %q; want same=%v", tt.a, sa, tt.b, sb, tt.same)
		}
	}
}

// TestConfusableUsernameTaken: a name that looks like a registered one is
// "taken", and lookups for sign-in still go by the normalised name.
func TestConfusableUsernameTaken(t *testing.T) {
	t.Parallel()
	svc, _, _ := newService(t)
	ctx := context.Background()
	first, err := svc.Register(ctx, "y1234", "staple-gun-orbit")
	if err != nil {
		t.Fatal(err)
	}
	if first.UsernameSkeleton == "" {
		t.Fatal("no skeleton stored")
	}
	for _, name := range []string{"у1234", "Y1234", "yl234"} {
		if _, err := svc.Register(ctx, name, "staple-gun-orbit"); !errors.Is(err, user.ErrUsernameTaken) {
			t.Errorf("Register(%q) after y1234: got %v, want ErrUsernameTaken", name, err)
		}
	}
	if _, err := svc.Authenticate(ctx, "у1234", "staple-gun-orbit"); !errors.Is(err, user.ErrInvalidCredentials) {
		t.Errorf("sign-in as the look-alike: got %v, want ErrInvalidCredentials", err)
	}
	if _, err := svc.Authenticate(ctx, "Y1234", "staple-gun-orbit"); err != nil {
		t.Errorf("sign-in as the owner: got %v, want nil", err)
	}
}
