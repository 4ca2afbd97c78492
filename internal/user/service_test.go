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

// memRepo is a user.Repository in memory, unique on the normalised name.
type memRepo struct {
	mu    sync.Mutex
	users map[string]*user.User // by id
	next  int
	// hashesSet counts SetPasswordHash calls.
	hashesSet int
}

func newMemRepo() *memRepo { return &memRepo{users: map[string]*user.User{}} }

func (m *memRepo) Create(_ context.Context, u *user.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.users {
		if o.UsernameNorm == u.UsernameNorm {
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
	return m.update(id, func(u *user.User) { u.PasswordHash, u.UpdatedAt = hash, at; m.hashesSet++ })
}

func (m *memRepo) SetRole(_ context.Context, id string, role user.Role, at time.Time) error {
	return m.update(id, func(u *user.User) { u.Role, u.UpdatedAt = role, at })
}

func (m *memRepo) SetDisabled(_ context.Context, id string, disabled bool, at time.Time) error {
	return m.update(id, func(u *user.User) { u.Disabled, u.UpdatedAt = disabled, at })
}

func (m *memRepo) CountAdmins(context.Context) (int64, error) { return 0, errors.ErrUnsupported }

func (m *memRepo) List(context.Context, string, int64, int64) ([]*user.User, int64, error) {
	return nil, 0, errors.ErrUnsupported
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

const msgContainsUsername = "Your password must not contain your username"
