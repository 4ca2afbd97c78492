package token_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/token"
)

func newStore(t *testing.T) (*token.Store, *redigo.Pool) {
	t.Helper()
	url, _ := testenv.Redis(t)
	pool, err := redis.NewPool(url, redis.Options{Timeout: time.Second, MaxActive: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.Close() })
	return token.NewStore(pool), pool
}

const uid = "65a1b2c3d4e5f6a7b8c9d0e1"

// subject gives each test its own subject, for tests that share a Redis
// (REDIS_URL).
func subject(t *testing.T) string {
	return strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
}

func TestTokenLifecycle(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()

	tok, err := s.Issue(ctx, token.PasswordReset, subject(t), []byte(`{"a":1}`), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got := token.Subject(tok); got != subject(t) {
		t.Fatalf("Subject: got %q, want %q", got, subject(t))
	}
	if p, err := s.Peek(ctx, token.PasswordReset, tok); err != nil || string(p) != `{"a":1}` {
		t.Fatalf("Peek: got %q, %v", p, err)
	}
	// Another purpose never accepts it.
	if _, err := s.Peek(ctx, token.VerifyEmail, tok); !errors.Is(err, token.ErrInvalid) {
		t.Fatalf("Peek under another purpose: got %v, want ErrInvalid", err)
	}
	// A forged secret for the same subject fails.
	forged := subject(t) + "." + strings.Repeat("A", 43)
	if _, _, err := s.Use(ctx, token.PasswordReset, forged); !errors.Is(err, token.ErrInvalid) {
		t.Fatalf("Use of a forged token: got %v, want ErrInvalid", err)
	}
	p, left, err := s.Use(ctx, token.PasswordReset, tok)
	if err != nil || string(p) != `{"a":1}` || left <= 0 || left > time.Minute {
		t.Fatalf("Use: got %q, %v, %v", p, left, err)
	}
	// Single use.
	if _, _, err := s.Use(ctx, token.PasswordReset, tok); !errors.Is(err, token.ErrInvalid) {
		t.Fatalf("second Use: got %v, want ErrInvalid", err)
	}
	// Restore gives it back, once.
	if err := s.Restore(ctx, token.PasswordReset, tok, p, left); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Use(ctx, token.PasswordReset, tok); err != nil {
		t.Fatalf("Use after Restore: %v", err)
	}
}

func TestTokenNewerReplacesOlderAndRevoke(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	old, err := s.Issue(ctx, token.PasswordReset, subject(t), nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	newer, err := s.Issue(ctx, token.PasswordReset, subject(t), nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Peek(ctx, token.PasswordReset, old); !errors.Is(err, token.ErrInvalid) {
		t.Fatalf("older token after a newer one: got %v, want ErrInvalid", err)
	}
	// Restoring the older one does not replace the newer.
	if err := s.Restore(ctx, token.PasswordReset, old, nil, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Peek(ctx, token.PasswordReset, newer); err != nil {
		t.Fatalf("newer token after restoring the older: %v", err)
	}
	if err := s.Revoke(ctx, token.PasswordReset, subject(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Peek(ctx, token.PasswordReset, newer); !errors.Is(err, token.ErrInvalid) {
		t.Fatalf("revoked token: got %v, want ErrInvalid", err)
	}
}

func TestTokenExpires(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	tok, err := s.Issue(ctx, token.VerifyEmail, subject(t), nil, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Peek(ctx, token.VerifyEmail, tok); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.Peek(ctx, token.VerifyEmail, tok)
		if errors.Is(err, token.ErrInvalid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("token still usable 5 s after its 100 ms TTL: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, _, err := s.Use(ctx, token.VerifyEmail, tok); !errors.Is(err, token.ErrInvalid) {
		t.Fatalf("Use of an expired token: got %v, want ErrInvalid", err)
	}
}

// TestTokenHashedAtRest scans every key and value in Redis: neither the
// token nor its secret appears, only its SHA-256.
func TestTokenHashedAtRest(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := context.Background()
	tok, err := s.Issue(ctx, token.PasswordReset, subject(t), []byte("payload"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _ := strings.Cut(tok, ".")
	c := pool.Get()
	defer c.Close()
	found := 0
	cursor := "0"
	for {
		res, err := redigo.Values(c.Do("SCAN", cursor, "COUNT", 100))
		if err != nil {
			t.Fatal(err)
		}
		cursor, _ = redigo.String(res[0], nil)
		keys, _ := redigo.Strings(res[1], nil)
		for _, k := range keys {
			if typ, _ := redigo.String(c.Do("TYPE", k)); typ != "string" {
				continue // another test's, on a shared server: the store writes strings only
			}
			found++
			v, err := redigo.String(c.Do("GET", k))
			if err != nil {
				t.Fatalf("GET %s: %v", k, err)
			}
			for _, s := range []string{k, v} {
				if strings.Contains(s, secret) {
					t.Errorf("key %s holds the raw token", k)
				}
			}
		}
		if cursor == "0" {
			break
		}
	}
	if found == 0 {
		t.Fatal("SCAN found no key: the test would pass whatever is stored")
	}
}

func TestTokenMalformed(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	for _, tok := range []string{"", ".", uid, uid + ".", uid + ".short", "a b." + strings.Repeat("A", 43),
		strings.Repeat("x", 65) + "." + strings.Repeat("A", 43), uid + "." + strings.Repeat("A", 42) + "*"} {
		if _, err := s.Peek(ctx, token.PasswordReset, tok); !errors.Is(err, token.ErrInvalid) {
			t.Errorf("Peek(%q): got %v, want ErrInvalid", tok, err)
		}
		if _, _, err := s.Use(ctx, token.PasswordReset, tok); !errors.Is(err, token.ErrInvalid) {
			t.Errorf("Use(%q): got %v, want ErrInvalid", tok, err)
		}
	}
}

// TestTokenExpiresWithoutTTL: a token past its lifetime is refused even
// while its key still exists, as on the in-memory Redis of development
// builds, which expires keys only when told.
func TestTokenExpiresWithoutTTL(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	now := time.Now()
	token.SetClock(s, func() time.Time { return now })
	tok, err := s.Issue(ctx, token.PasswordReset, subject(t), nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := s.Peek(ctx, token.PasswordReset, tok); !errors.Is(err, token.ErrInvalid) {
		t.Fatalf("Peek after its lifetime: got %v, want ErrInvalid", err)
	}
	if _, _, err := s.Use(ctx, token.PasswordReset, tok); !errors.Is(err, token.ErrInvalid) {
		t.Fatalf("Use after its lifetime: got %v, want ErrInvalid", err)
	}
}
