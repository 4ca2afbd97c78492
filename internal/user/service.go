package user

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Hasher hashes and verifies passwords (internal/password).
type Hasher interface {
	Hash(password string) (string, error)
	Verify(password, encoded string) (match, needsRehash bool, err error)
	VerifyDummy(password string)
}

// Service registers and authenticates users.
type Service struct {
	repo   Repository
	hasher Hasher
	now    func() time.Time
}

// NewService returns a Service. now is the clock (time.Now outside tests).
func NewService(repo Repository, hasher Hasher, now func() time.Time) *Service {
	return &Service{repo: repo, hasher: hasher, now: now}
}

// Register creates an account with role user.
func (s *Service) Register(ctx context.Context, username, password string) (*User, error) {
	norm, err := NormalizeUsername(username)
	if err != nil {
		return nil, err
	}
	if err := ValidatePassword(password); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(password)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	now := s.now().UTC()
	u := &User{
		Username:     strings.TrimSpace(username),
		UsernameNorm: norm,
		PasswordHash: hash,
		Role:         RoleUser,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	if err := s.repo.Create(ctx, u); err != nil {
		return nil, fmt.Errorf("create user %q: %w", norm, err)
	}
	return u, nil
}

// Authenticate returns the user whose name and password match, with
// LastLoginAt still holding the previous sign-in, and records this one.
//
// A malformed name, an unknown name, a wrong password and a disabled account
// all return ErrInvalidCredentials after the same amount of hashing work, so
// that neither the answer nor its timing reveals which it was.
func (s *Service) Authenticate(ctx context.Context, username, password string) (*User, error) {
	// Bound the password before hashing it: argon2 cost grows with input.
	if !utf8.ValidString(password) || utf8.RuneCountInString(password) > PasswordMaxLen {
		s.hasher.VerifyDummy("")
		return nil, ErrInvalidCredentials
	}
	norm, err := NormalizeUsername(username)
	if err != nil {
		s.hasher.VerifyDummy(password)
		return nil, ErrInvalidCredentials
	}
	u, err := s.repo.ByUsernameNorm(ctx, norm)
	if errors.Is(err, ErrNotFound) {
		s.hasher.VerifyDummy(password)
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("find user %q: %w", norm, err)
	}
	match, rehash, err := s.hasher.Verify(password, u.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("verify password of user %s: %w", u.ID, err)
	}
	if !match || u.Disabled {
		return nil, ErrInvalidCredentials
	}
	var newHash string
	if rehash {
		if newHash, err = s.hasher.Hash(password); err != nil {
			return nil, fmt.Errorf("rehash password: %w", err)
		}
	}
	if err := s.repo.RecordLogin(ctx, u.ID, s.now().UTC(), newHash); err != nil {
		return nil, fmt.Errorf("record login of user %s: %w", u.ID, err)
	}
	return u, nil
}
