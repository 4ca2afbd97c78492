package mfa

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// memStore and memSteps stand in for MongoDB and Redis in these unit
// tests of the arithmetic; the real ones are tested against real servers
// (internal/mongo, internal/redis) and through the router (web).
type memStore map[string]*TOTP

func (m memStore) Get(_ context.Context, id string) (*TOTP, error) {
	if t, ok := m[id]; ok {
		c := *t
		c.Recovery = append([]string(nil), t.Recovery...)
		return &c, nil
	}
	return nil, ErrNotEnrolled
}
func (m memStore) Create(_ context.Context, t *TOTP) error {
	if _, ok := m[t.UserID]; ok {
		return ErrEnrolled
	}
	m[t.UserID] = t
	return nil
}
func (m memStore) UseRecovery(_ context.Context, id, hash string) (bool, error) {
	t := m[id]
	for i, h := range t.Recovery {
		if h == hash {
			t.Recovery = append(t.Recovery[:i], t.Recovery[i+1:]...)
			return true, nil
		}
	}
	return false, nil
}
func (m memStore) SetRecovery(_ context.Context, id string, h []string) error {
	m[id].Recovery = h
	return nil
}
func (m memStore) Delete(_ context.Context, id string) error { delete(m, id); return nil }

type memSteps map[string]int64

func (m memSteps) Accept(_ context.Context, id string, step int64) (bool, error) {
	if last, ok := m[id]; ok && step <= last {
		return false, nil
	}
	m[id] = step
	return true, nil
}

func TestEnrolVerifyRecovery(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 10, 0, time.UTC)
	s := NewService(memStore{}, memSteps{}, "Gatehouse", func() time.Time { return now })
	ctx := context.Background()
	secret, url, err := s.NewSecret("ada")
	if err != nil || !ValidSecret(secret) || !strings.HasPrefix(url, "otpauth://totp/Gatehouse:ada?") {
		t.Fatalf("got %q %q %v", secret, url, err)
	}
	code := func(d time.Duration) string {
		c, _ := totp.GenerateCode(secret, now.Add(d))
		return c
	}
	if _, err := s.Enroll(ctx, "u", secret, code(-2*Period)); !errors.Is(err, ErrWrongCode) {
		t.Fatalf("enrol with an old code: got %v", err)
	}
	codes, err := s.Enroll(ctx, "u", secret, code(0))
	if err != nil || len(codes) != RecoveryCodes {
		t.Fatalf("enrol: got %d codes, %v", len(codes), err)
	}
	if _, err := s.Enroll(ctx, "u", secret, code(Period)); !errors.Is(err, ErrEnrolled) {
		t.Fatalf("second enrolment: got %v", err)
	}
	// The enrolment's code is used; the next step's works once, with
	// spaces as people type it.
	if _, err := s.Verify(ctx, "u", code(0)); !errors.Is(err, ErrWrongCode) {
		t.Fatalf("enrolment code again: got %v", err)
	}
	c := code(Period)
	if m, err := s.Verify(ctx, "u", c[:3]+" "+c[3:]); err != nil || m != Code {
		t.Fatalf("next step: got %v, %v", m, err)
	}
	for _, bad := range []string{c, "", "12345", "1234567", strings.Repeat("9", MaxCodeLen+1), "abcde-fghij"} {
		if _, err := s.Verify(ctx, "u", bad); !errors.Is(err, ErrWrongCode) {
			t.Errorf("Verify(%q): got %v, want ErrWrongCode", bad, err)
		}
	}
	if m, err := s.Verify(ctx, "u", strings.ToUpper(codes[0])); err != nil || m != Recovery {
		t.Fatalf("recovery code: got %v, %v", m, err)
	}
	if _, err := s.Verify(ctx, "u", codes[0]); !errors.Is(err, ErrWrongCode) {
		t.Fatalf("recovery code twice: got %v", err)
	}
	if n, _ := s.RecoveryLeft(ctx, "u"); n != RecoveryCodes-1 {
		t.Fatalf("got %d codes left", n)
	}
	if _, err := s.Verify(ctx, "nobody", c); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("not enrolled: got %v", err)
	}
}

func TestRecoveryCodesAreDistinctAndWellFormed(t *testing.T) {
	t.Parallel()
	codes, hashes, err := newRecoveryCodes()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != 11 || c[5] != '-' || seen[c] || hashes[i] != hashCode(normalize(c)) {
			t.Fatalf("code %q (hash %s) is malformed or repeated", c, hashes[i])
		}
		seen[c] = true
	}
}
