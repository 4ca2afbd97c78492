package passkey_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/passkey"
	"github.com/gatehouse/gatehouse/internal/passkey/passkeytest"
)

// memRepo and memChallenges keep everything in memory.
type memRepo struct {
	mu    sync.Mutex
	creds []passkey.Credential
}

func (m *memRepo) Create(_ context.Context, c *passkey.Credential) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.creds {
		if bytes.Equal(x.ID, c.ID) {
			return passkey.ErrExists
		}
	}
	m.creds = append(m.creds, *c)
	return nil
}

func (m *memRepo) ByUser(_ context.Context, userID string) ([]passkey.Credential, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []passkey.Credential
	for _, x := range m.creds {
		if x.UserID == userID {
			out = append(out, x)
		}
	}
	return out, nil
}

func (m *memRepo) ByID(_ context.Context, id []byte) (*passkey.Credential, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.creds {
		if bytes.Equal(x.ID, id) {
			return &x, nil
		}
	}
	return nil, passkey.ErrNotFound
}

func (m *memRepo) Used(_ context.Context, c *passkey.Credential) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, x := range m.creds {
		if bytes.Equal(x.ID, c.ID) {
			m.creds[i] = *c
			return nil
		}
	}
	return passkey.ErrNotFound
}

func (m *memRepo) Delete(_ context.Context, userID string, id []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, x := range m.creds {
		if bytes.Equal(x.ID, id) && x.UserID == userID {
			m.creds = append(m.creds[:i], m.creds[i+1:]...)
			return nil
		}
	}
	return passkey.ErrNotFound
}

func (m *memRepo) DeleteAll(_ context.Context, userID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	kept := m.creds[:0]
	for _, x := range m.creds {
		if x.UserID != userID {
			kept = append(kept, x)
		}
	}
	m.creds = kept
	return nil
}

func (m *memRepo) Count(ctx context.Context, userID string) (int, error) {
	l, err := m.ByUser(ctx, userID)
	return len(l), err
}

type memChallenges struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *memChallenges) Put(_ context.Context, data []byte, _ time.Duration) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := base64.RawURLEncoding.EncodeToString(b)
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	c.m[h] = data
	return h, nil
}

func (c *memChallenges) Take(_ context.Context, h string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.m[h]
	delete(c.m, h)
	return v, nil
}

const origin = "http://localhost:8080"

func newService(t *testing.T) (*passkey.Service, *memRepo) {
	t.Helper()
	repo := &memRepo{}
	s, err := passkey.New("http://127.0.0.1:8080", "Gatehouse", repo, &memChallenges{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, repo
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var alice = passkey.Account{ID: "65f0c0ffee0000000000a11c", Username: "alice"}

// register makes a passkey for alice with a new software authenticator.
func register(t *testing.T, s *passkey.Service, name string) *passkeytest.Authenticator {
	t.Helper()
	ctx := context.Background()
	opts, h, err := s.BeginRegistration(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	a := passkeytest.New(origin)
	a.BE = true
	resp, err := a.Create(mustJSON(t, opts))
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.FinishRegistration(ctx, alice, h, name, bytes.NewReader(resp))
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	if c.Name != name || c.UserID != alice.ID || !bytes.Equal(c.ID, a.ID) || !c.Record.Flags.BackupEligible {
		t.Fatalf("registered %+v", c)
	}
	// The handle served once.
	if _, err := s.FinishRegistration(ctx, alice, h, name, bytes.NewReader(resp)); !errors.Is(err, passkey.ErrChallenge) {
		t.Fatalf("second FinishRegistration: got %v, want ErrChallenge", err)
	}
	return a
}

func TestPasskeyRelyingParty(t *testing.T) {
	for _, tt := range []struct{ url, id, origin string }{
		{"https://login.example.com", "login.example.com", "https://login.example.com"},
		{"https://Login.Example.com:8443/gate", "login.example.com", "https://login.example.com:8443"},
		{"http://127.0.0.1:8080", "localhost", "http://localhost:8080"},
		{"http://localhost:3000", "localhost", "http://localhost:3000"},
		{"http://[::1]:3000", "localhost", "http://localhost:3000"},
	} {
		id, o, err := passkey.RelyingParty(tt.url)
		if err != nil || id != tt.id || o != tt.origin {
			t.Errorf("RelyingParty(%q): got %q, %q, %v, want %q, %q", tt.url, id, o, err, tt.id, tt.origin)
		}
	}
	for _, bad := range []string{"", "ftp://x", "https://10.0.0.1", "not a url"} {
		if _, _, err := passkey.RelyingParty(bad); err == nil {
			t.Errorf("RelyingParty(%q): got no error", bad)
		}
	}
}

func TestPasskeyCheckName(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"  Laptop ", "Laptop", true},
		{"", "", false},
		{"   ", "", false},
		{strings.Repeat("é", passkey.MaxName), strings.Repeat("é", passkey.MaxName), true},
		{strings.Repeat("a", passkey.MaxName+1), "", false},
		{"tab\there", "", false},
		{"\xff", "", false},
	} {
		got, err := passkey.CheckName(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("CheckName(%q): got %q, %v, want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestPasskeyCeremonies(t *testing.T) {
	s, repo := newService(t)
	ctx := context.Background()
	a := register(t, s, "Laptop")

	// A discoverable sign-in: no user named.
	opts, h, err := s.BeginLogin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Get(mustJSON(t, opts))
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.FinishLogin(ctx, h, bytes.NewReader(resp))
	if err != nil {
		t.Fatalf("FinishLogin: %v", err)
	}
	if res.UserID != alice.ID || !res.UserVerified || res.Credential.LastUsedAt.IsZero() {
		t.Fatalf("FinishLogin: got %+v", res)
	}
	if got, _ := repo.ByID(ctx, a.ID); got.Record.Authenticator.SignCount != 1 {
		t.Errorf("stored counter: got %d, want 1", got.Record.Authenticator.SignCount)
	}
	// Replaying the same answer: the challenge is gone.
	if _, err := s.FinishLogin(ctx, h, bytes.NewReader(resp)); !errors.Is(err, passkey.ErrChallenge) {
		t.Errorf("replay: got %v, want ErrChallenge", err)
	}

	// The second factor and reauthentication: alice's own passkeys.
	for _, purpose := range []string{passkey.SecondFactor, passkey.Reauth} {
		opts, h, err := s.BeginVerify(ctx, purpose, alice)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := a.Get(mustJSON(t, opts))
		if err != nil {
			t.Fatal(err)
		}
		// Another user cannot finish alice's ceremony; nor can another
		// purpose: both use the handle up.
		bob := passkey.Account{ID: "65f0c0ffee0000000000b0b0", Username: "bob"}
		if _, err := s.FinishVerify(ctx, purpose, bob, h, bytes.NewReader(resp)); !errors.Is(err, passkey.ErrChallenge) {
			t.Errorf("%s by bob: got %v, want ErrChallenge", purpose, err)
		}
		opts, h, _ = s.BeginVerify(ctx, purpose, alice)
		resp, _ = a.Get(mustJSON(t, opts))
		if _, err := s.FinishLogin(ctx, h, bytes.NewReader(resp)); !errors.Is(err, passkey.ErrChallenge) {
			t.Errorf("%s finished as a login: got %v, want ErrChallenge", purpose, err)
		}
		opts, h, _ = s.BeginVerify(ctx, purpose, alice)
		resp, _ = a.Get(mustJSON(t, opts))
		res, err := s.FinishVerify(ctx, purpose, alice, h, bytes.NewReader(resp))
		if err != nil || res.UserID != alice.ID {
			t.Errorf("%s: got %+v, %v", purpose, res, err)
		}
	}

	// A counter that goes backwards: a cloned key; refused.
	a.Counter = 0
	opts, h, _ = s.BeginLogin(ctx, false)
	resp, _ = a.Get(mustJSON(t, opts))
	if _, err := s.FinishLogin(ctx, h, bytes.NewReader(resp)); !errors.Is(err, passkey.ErrCloned) {
		t.Errorf("cloned: got %v, want ErrCloned", err)
	}

	// Garbage and unknown handles.
	opts, h, _ = s.BeginLogin(ctx, true)
	if _, err := s.FinishLogin(ctx, h, strings.NewReader(`{"id":`)); !errors.Is(err, passkey.ErrFailed) {
		t.Errorf("malformed: got %v, want ErrFailed", err)
	}
	for _, bad := range []string{"", "unknown", strings.Repeat("x", 500)} {
		if _, err := s.FinishLogin(ctx, bad, strings.NewReader(`{}`)); !errors.Is(err, passkey.ErrChallenge) {
			t.Errorf("handle %.10q: got %v, want ErrChallenge", bad, err)
		}
	}
	_ = opts

	// Removing: only the owner.
	if _, err := s.Remove(ctx, "someone-else", base64.RawURLEncoding.EncodeToString(a.ID)); !errors.Is(err, passkey.ErrNotFound) {
		t.Errorf("Remove by another: got %v, want ErrNotFound", err)
	}
	if _, err := s.Remove(ctx, alice.ID, base64.RawURLEncoding.EncodeToString(a.ID)); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Count(ctx, alice.ID); n != 0 {
		t.Errorf("Count after Remove: got %d, want 0", n)
	}
	if _, _, err := s.BeginVerify(ctx, passkey.SecondFactor, alice); !errors.Is(err, passkey.ErrNotFound) {
		t.Errorf("BeginVerify without passkeys: got %v, want ErrNotFound", err)
	}
}

func TestPasskeyWrongOrigin(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	opts, h, err := s.BeginRegistration(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	a := passkeytest.New("http://localhost:9999") // another origin
	resp, err := a.Create(mustJSON(t, opts))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishRegistration(ctx, alice, h, "Laptop", bytes.NewReader(resp)); !errors.Is(err, passkey.ErrFailed) {
		t.Fatalf("wrong origin: got %v, want ErrFailed", err)
	}
}
