// Package password hashes and verifies passwords with argon2id.
//
// Hashes are stored as PHC strings
// ($argon2id$v=19$m=19456,t=2,p=1$salt$hash) so that the parameters travel
// with each hash and can be raised later: Verify reports when a stored hash
// was made with weaker parameters than the current ones, and never asks to
// replace a stronger one.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLength  uint32
	KeyLength   uint32
}

// OWASP are the parameters the OWASP Password Storage Cheat Sheet recommends
// for argon2id: 19 MiB of memory, two iterations, one lane.
var OWASP = Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// ErrMalformed means a stored hash is not an argon2id PHC string we can read.
var ErrMalformed = errors.New("password: malformed hash")

// Hasher hashes and verifies passwords with fixed parameters.
type Hasher struct {
	params Params
	dummy  string // a hash of a random password, verified for unknown users
}

// New returns a Hasher using p. It hashes one random password up front so
// that VerifyDummy costs exactly what a real verification costs.
func New(p Params) (*Hasher, error) {
	h := &Hasher{params: p}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	d, err := h.Hash(base64.RawStdEncoding.EncodeToString(secret))
	if err != nil {
		return nil, err
	}
	h.dummy = d
	return h, nil
}

// Hash returns the PHC string of password with a fresh random salt.
func (h *Hasher) Hash(password string) (string, error) {
	salt := make([]byte, h.params.SaltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	p := h.params
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify reports whether password matches the PHC string encoded, in constant
// time, and whether encoded should be replaced by a hash made with the current
// parameters.
func (h *Hasher) Verify(password, encoded string) (match, needsRehash bool, err error) {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	other := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, uint32(len(key)))
	match = subtle.ConstantTimeCompare(key, other) == 1
	return match, h.params.stronger(p), nil
}

// stronger reports whether hashing with c instead of p gains strength and
// loses none: c is at least p in memory, passes, salt and key length, and
// above it in one. So a hash is never rehashed down, for example one made
// with more memory by an operator who raised it, or by a newer instance
// during a rolling deploy. Parallelism is not strength (RFC 9106: the lanes
// split the same memory and passes), so it neither asks for a rehash nor
// prevents one.
func (c Params) stronger(p Params) bool {
	if c.Memory < p.Memory || c.Iterations < p.Iterations || c.SaltLength < p.SaltLength || c.KeyLength < p.KeyLength {
		return false
	}
	return c.Memory > p.Memory || c.Iterations > p.Iterations || c.SaltLength > p.SaltLength || c.KeyLength > p.KeyLength
}

// VerifyDummy spends the time of one verification and always fails. Callers
// use it when the user does not exist, so that the response time does not
// tell an attacker whether a username is registered.
func (h *Hasher) VerifyDummy(password string) {
	_, _, _ = h.Verify(password, h.dummy)
}

// Limits on stored parameters, so that a tampered hash cannot make one
// verification take gigabytes or minutes.
const (
	maxMemory     = 1 << 21 // 2 GiB in KiB
	maxIterations = 100
	maxKeyLen     = 1024
)

func decode(encoded string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrMalformed
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, ErrMalformed
	}
	var par uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Iterations, &par); err != nil {
		return p, nil, nil, ErrMalformed
	}
	if p.Memory == 0 || p.Memory > maxMemory || p.Iterations == 0 || p.Iterations > maxIterations || par == 0 || par > 255 {
		return p, nil, nil, ErrMalformed
	}
	p.Parallelism = uint8(par)
	if salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil || len(salt) == 0 {
		return p, nil, nil, ErrMalformed
	}
	if key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil || len(key) == 0 || len(key) > maxKeyLen {
		return p, nil, nil, ErrMalformed
	}
	p.SaltLength, p.KeyLength = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
