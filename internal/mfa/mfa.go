// Package mfa is the authenticator-app second factor: time-based one-time
// passwords (TOTP, RFC 6238, through github.com/pquerna/otp) with
// single-use recovery codes, as the OWASP Multifactor Authentication
// Cheat Sheet and NIST SP 800-63B (AAL2) describe them. It knows no HTTP
// and no driver: the secrets live behind Store (MongoDB), and the last
// accepted time step behind Steps (Redis), which makes every code
// single-use.
//
// Passkeys, the other second factor, are package passkey's.
package mfa

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Errors of the flows.
var (
	// ErrWrongCode is a code that is not right: wrong, outside the time
	// window, already used, or a recovery code used before. They are not
	// told apart. It counts as a failed attempt in the login limiter.
	ErrWrongCode = errors.New("mfa: wrong code")
	// ErrNotEnrolled is a user without an authenticator app.
	ErrNotEnrolled = errors.New("mfa: not enrolled")
	// ErrEnrolled is an enrolment for a user who already has one.
	ErrEnrolled = errors.New("mfa: already enrolled")
)

// Method says which kind of code was accepted.
type Method int

const (
	Code     Method = iota + 1 // a code from the app (amr "otp")
	Recovery                   // a recovery code (amr "recovery")
)

// Parameters of the codes. Period, digits and SHA-1 are RFC 6238's
// defaults, the only ones every authenticator app supports.
const (
	Period = 30 * time.Second
	// Skew is how many time steps either side of now a code may be from:
	// one, as RFC 6238 section 5.2 recommends for clock drift.
	Skew = 1
	// RecoveryCodes is how many recovery codes an enrolment gets.
	RecoveryCodes = 10
	// secretBytes is the secret's size: 160 bits, RFC 4226's
	// recommendation for HMAC-SHA-1.
	secretBytes = 20
	// MaxCodeLen bounds a code as typed (a recovery code with spaces).
	MaxCodeLen = 32
)

// TOTP is one user's enrolment.
type TOTP struct {
	UserID string
	// Secret is the shared secret, base32 without padding (RFC 4648).
	Secret string
	// Recovery holds the SHA-256 of each unused recovery code, hex.
	Recovery  []string
	CreatedAt time.Time
}

// Store keeps enrolments (internal/mongo). Get returns ErrNotEnrolled
// when there is none.
type Store interface {
	Get(ctx context.Context, userID string) (*TOTP, error)
	// Create stores t; ErrEnrolled if the user has one already.
	Create(ctx context.Context, t *TOTP) error
	// UseRecovery removes hash from the user's recovery codes and reports
	// whether it was there, in one atomic update.
	UseRecovery(ctx context.Context, userID, hash string) (bool, error)
	SetRecovery(ctx context.Context, userID string, hashes []string) error
	// Delete removes the user's enrolment; none is no error.
	Delete(ctx context.Context, userID string) error
}

// Steps remembers the last time step accepted per user (internal/redis),
// so that a code is accepted once: Accept reports false for a step at or
// before the last one.
type Steps interface {
	Accept(ctx context.Context, userID string, step int64) (bool, error)
}

// Service is the second factor's flows.
type Service struct {
	store  Store
	steps  Steps
	now    func() time.Time
	issuer string
}

// NewService returns the flows on store and steps; issuer names the
// account in authenticator apps ("Gatehouse").
func NewService(store Store, steps Steps, issuer string, now func() time.Time) *Service {
	return &Service{store: store, steps: steps, issuer: issuer, now: now}
}

// NewSecret returns a new random secret for account (the username), and
// its otpauth:// URL (Google Authenticator's Key Uri Format) for the QR
// code.
func (s *Service) NewSecret(account string) (secret, url string, err error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: s.issuer, AccountName: account, SecretSize: secretBytes})
	if err != nil {
		return "", "", fmt.Errorf("mfa: new secret: %w", err)
	}
	return k.Secret(), k.URL(), nil
}

// KeyURL returns the otpauth:// URL of secret for account.
func (s *Service) KeyURL(secret, account string) string {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: s.issuer, AccountName: account, Secret: mustDecode(secret)})
	if err != nil {
		return ""
	}
	return k.URL()
}

// ValidSecret reports whether secret is one NewSecret made: base32 of
// secretBytes bytes.
func ValidSecret(secret string) bool {
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	return err == nil && len(b) == secretBytes
}

func mustDecode(secret string) []byte {
	b, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	return b
}

// Enrolled reports whether the user has an authenticator app.
func (s *Service) Enrolled(ctx context.Context, userID string) (bool, error) {
	_, err := s.store.Get(ctx, userID)
	if errors.Is(err, ErrNotEnrolled) {
		return false, nil
	}
	return err == nil, err
}

// RecoveryLeft returns how many unused recovery codes the user has.
func (s *Service) RecoveryLeft(ctx context.Context, userID string) (int, error) {
	t, err := s.store.Get(ctx, userID)
	if err != nil {
		return 0, err
	}
	return len(t.Recovery), nil
}

// Enroll confirms an enrolment: code must be right for secret (the code
// then counts as used), and the user must have none yet. It returns the
// recovery codes, to show once; only their hashes are stored.
func (s *Service) Enroll(ctx context.Context, userID, secret, code string) ([]string, error) {
	if !ValidSecret(secret) {
		return nil, ErrWrongCode
	}
	// Enrolled already: say so before the code's step is used up.
	if _, err := s.store.Get(ctx, userID); !errors.Is(err, ErrNotEnrolled) {
		if err == nil {
			err = ErrEnrolled
		}
		return nil, err
	}
	step, ok := matchStep(secret, code, s.now())
	if !ok {
		return nil, ErrWrongCode
	}
	if ok, err := s.steps.Accept(ctx, userID, step); err != nil || !ok {
		if err != nil {
			return nil, err
		}
		return nil, ErrWrongCode
	}
	codes, hashes, err := newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	if err := s.store.Create(ctx, &TOTP{UserID: userID, Secret: secret, Recovery: hashes, CreatedAt: s.now().UTC()}); err != nil {
		return nil, err
	}
	return codes, nil
}

// Verify checks code, from the app or a recovery code, for the user: a
// code is accepted once, within Skew steps of now; a recovery code is
// used up. It returns ErrWrongCode, ErrNotEnrolled or a storage error.
func (s *Service) Verify(ctx context.Context, userID, code string) (Method, error) {
	t, err := s.store.Get(ctx, userID)
	if err != nil {
		return 0, err
	}
	code = normalize(code)
	if len(code) == 6 {
		step, ok := matchStep(t.Secret, code, s.now())
		if !ok {
			return 0, ErrWrongCode
		}
		ok, err := s.steps.Accept(ctx, userID, step)
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, ErrWrongCode
		}
		return Code, nil
	}
	if len(code) != recoveryLen {
		return 0, ErrWrongCode
	}
	ok, err := s.store.UseRecovery(ctx, userID, hashCode(code))
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, ErrWrongCode
	}
	return Recovery, nil
}

// NewRecoveryCodes replaces the user's recovery codes with new ones,
// returned to show once.
func (s *Service) NewRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	if _, err := s.store.Get(ctx, userID); err != nil {
		return nil, err
	}
	codes, hashes, err := newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	return codes, s.store.SetRecovery(ctx, userID, hashes)
}

// Disable removes the user's enrolment and its recovery codes.
func (s *Service) Disable(ctx context.Context, userID string) error {
	return s.store.Delete(ctx, userID)
}

// matchStep returns the time step within Skew of now whose code is code.
func matchStep(secret, code string, now time.Time) (int64, bool) {
	code = normalize(code)
	if len(code) != 6 {
		return 0, false
	}
	step := now.Unix() / int64(Period/time.Second)
	found, at := false, int64(0)
	// Every candidate is computed and compared in constant time, so the
	// time taken says nothing of which matched.
	for d := int64(-Skew); d <= Skew; d++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix((step+d)*int64(Period/time.Second), 0),
			totp.ValidateOpts{Period: uint(Period / time.Second), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !found {
			found, at = true, step+d
		}
	}
	return at, found
}

// Recovery codes are 10 characters of base32 (50 bits), shown as two
// groups of five: "abcde-fghij". They are random enough that SHA-256 is
// a fitting hash (no password-hashing cost is needed to resist guessing
// 2^50 from a stolen database, against codes that the limiter guards
// online).
const recoveryLen = 10

var recoveryEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func newRecoveryCodes() (codes, hashes []string, err error) {
	for range RecoveryCodes {
		b := make([]byte, 7)
		if _, err := rand.Read(b); err != nil {
			return nil, nil, fmt.Errorf("mfa: recovery codes: %w", err)
		}
		c := recoveryEncoding.EncodeToString(b)[:recoveryLen]
		codes = append(codes, c[:5]+"-"+c[5:])
		hashes = append(hashes, hashCode(c))
	}
	return codes, hashes, nil
}

// normalize drops spaces and hyphens and lower-cases, as people type
// codes: "123 456", "ABCDE-FGHIJ".
func normalize(code string) string {
	if len(code) > MaxCodeLen {
		return ""
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ' || r == '-':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return r
	}, code)
}

func hashCode(normalized string) string {
	sum := sha256.Sum256([]byte(normalized))
	return hex.EncodeToString(sum[:])
}
