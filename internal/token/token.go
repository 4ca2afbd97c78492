// Package token keeps single-use secrets in Redis: password-reset links,
// e-mail verification links and "this wasn't me" links. It follows the
// OWASP Forgot Password Cheat Sheet: a token is 32 random bytes, Redis
// holds only its SHA-256, it expires, and using it deletes it.
//
// A token reads "SUBJECT.SECRET": the subject says whose token it is (a
// user id, or a public session id), and the secret is the 32 random bytes
// in unpadded base64url (43 characters). Each (purpose, subject) has at
// most one live token, so issuing a new one replaces the old: a newer
// reset request invalidates an older link, and Revoke invalidates the
// subject's token outright.
//
// Every command touches one key, so the store works unchanged on a Redis
// Cluster: the key of a token is gatehouse:token:PURPOSE:{SUBJECT}, in the
// hash slot of its subject.
package token

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"

	gredis "github.com/gatehouse/gatehouse/internal/redis"
)

// Purposes of tokens. A token of one purpose is never accepted for
// another: the purpose is part of its key.
const (
	PasswordReset = "reset"  // subject: user id
	VerifyEmail   = "verify" // subject: user id
	NotMe         = "notme"  // subject: public session id
)

// ErrInvalid is every token that cannot be used: malformed, unknown,
// expired, already used or replaced by a newer one. They are not told
// apart, on purpose: the person's next step is the same (ask for a new
// link), and an attacker learns nothing.
var ErrInvalid = errors.New("token invalid or expired")

// secretBytes is the size of a token's random part (256 bits).
const secretBytes = 32

// maxSubject bounds a subject; ids here are 22 or 24 characters.
const maxSubject = 64

// Store issues and checks tokens in Redis. Every call is bounded by the
// pool's dial, read and write timeouts and by ctx.
//
// A stored value is "DIGEST\nEXPIRES\nPAYLOAD": the token's digest, its
// expiry in Unix milliseconds, and the payload. The expiry is checked
// here as well as set as the key's TTL, so that a token expires on time
// even where keys do not (the in-memory Redis of development builds only
// expires keys when told).
type Store struct {
	pool *redis.Pool
	now  func() time.Time
}

// NewStore returns a store on pool.
func NewStore(pool *redis.Pool) *Store { return &Store{pool: pool, now: time.Now} }

// encodeValue and decodeValue read and write a stored value.
func encodeValue(tok string, expires time.Time, payload []byte) []byte {
	return append([]byte(digest(tok)+"\n"+strconv.FormatInt(expires.UnixMilli(), 10)+"\n"), payload...)
}

func decodeValue(v []byte) (dig string, expires time.Time, payload []byte, ok bool) {
	dig, rest, ok1 := strings.Cut(string(v), "\n")
	exp, p, ok2 := strings.Cut(rest, "\n")
	ms, err := strconv.ParseInt(exp, 10, 64)
	if !ok1 || !ok2 || err != nil {
		return "", time.Time{}, nil, false
	}
	return dig, time.UnixMilli(ms), []byte(p), true
}

// key is where the token of (purpose, subject) lives: one key per pair,
// in the hash slot of {subject}.
func key(purpose, subject string) string {
	return "gatehouse:token:" + purpose + ":{" + subject + "}"
}

// validSubject accepts base64url or hex ids of at most maxSubject
// characters: nothing that could break a key or a URL.
func validSubject(s string) bool {
	if s == "" || len(s) > maxSubject {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Subject returns the subject a token names, or "" when it is malformed.
// It asks nothing of Redis.
func Subject(tok string) string {
	subject, secret, ok := strings.Cut(tok, ".")
	if !ok || !validSubject(subject) || len(secret) != 43 || !validSubject(secret) {
		return ""
	}
	return subject
}

// digest is the stored form of a token: the hex SHA-256 of the whole
// token, 64 characters.
func digest(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// Issue makes a token of purpose for subject, valid for ttl (rounded to
// milliseconds), carrying payload (at most 4 KiB, returned by Peek and
// Use), and replaces the subject's previous token of that purpose. Redis
// keeps the token's SHA-256 and the payload, never the token.
func (s *Store) Issue(ctx context.Context, purpose, subject string, payload []byte, ttl time.Duration) (string, error) {
	if !validSubject(subject) {
		return "", errors.New("token: invalid subject")
	}
	if len(payload) > 4096 || ttl < time.Millisecond {
		return "", errors.New("token: payload too large or ttl too short")
	}
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := subject + "." + base64.RawURLEncoding.EncodeToString(b)
	value := encodeValue(tok, s.now().Add(ttl), payload)
	c, err := s.pool.GetContext(ctx)
	if err != nil {
		return "", gredis.Unavailable("issue token", err)
	}
	defer c.Close()
	if _, err := redis.DoContext(c, ctx, "SET", key(purpose, subject), value, "PX", ttl.Milliseconds()); err != nil {
		return "", gredis.Unavailable("issue token", err)
	}
	return tok, nil
}

// Peek returns the payload of a live token without using it up: for the
// page that shows a link's form before it is posted. It returns ErrInvalid
// for any token that Use would refuse.
func (s *Store) Peek(ctx context.Context, purpose, tok string) ([]byte, error) {
	subject := Subject(tok)
	if subject == "" {
		return nil, ErrInvalid
	}
	c, err := s.pool.GetContext(ctx)
	if err != nil {
		return nil, gredis.Unavailable("peek token", err)
	}
	defer c.Close()
	v, err := redis.Bytes(redis.DoContext(c, ctx, "GET", key(purpose, subject)))
	if errors.Is(err, redis.ErrNil) {
		return nil, ErrInvalid
	}
	if err != nil {
		return nil, gredis.Unavailable("peek token", err)
	}
	stored, expires, payload, ok := decodeValue(v)
	if !ok || subtle.ConstantTimeCompare([]byte(stored), []byte(digest(tok))) != 1 || !s.now().Before(expires) {
		return nil, ErrInvalid
	}
	return payload, nil
}

// useScript deletes the token's key when it holds the token's digest, and
// returns the stored value and the milliseconds its key had left; else nil.
// KEYS: the token's key. ARGV: the digest. One key: one hash slot.
var useScript = redis.NewScript(1, `
local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, 64) ~= ARGV[1] then return false end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
return {v, ttl}
`)

// Use checks a token and deletes it, in one atomic step, so that two
// requests with the same token cannot both succeed. It returns the
// payload and how long the token had left, for Restore; ErrInvalid when
// the token cannot be used.
func (s *Store) Use(ctx context.Context, purpose, tok string) (payload []byte, left time.Duration, err error) {
	subject := Subject(tok)
	if subject == "" {
		return nil, 0, ErrInvalid
	}
	c, err := s.pool.GetContext(ctx)
	if err != nil {
		return nil, 0, gredis.Unavailable("use token", err)
	}
	defer c.Close()
	res, err := redis.Values(useScript.DoContext(ctx, c, key(purpose, subject), digest(tok)))
	if errors.Is(err, redis.ErrNil) {
		return nil, 0, ErrInvalid
	}
	if err == nil && len(res) != 2 {
		err = errors.New("token: unexpected reply")
	}
	if err != nil {
		return nil, 0, gredis.Unavailable("use token", err)
	}
	v, _ := redis.Bytes(res[0], nil)
	_, expires, p, ok := decodeValue(v)
	left = expires.Sub(s.now())
	if !ok || left <= 0 {
		return nil, 0, ErrInvalid // expired; deleting it was right
	}
	return p, left, nil
}

// Restore gives back a token that Use took, for what it had left, when
// the action it was used for failed for a reason not of the token's
// making (a store was down, a breached password was refused). It does not
// replace a newer token of the same subject.
func (s *Store) Restore(ctx context.Context, purpose, tok string, payload []byte, left time.Duration) error {
	subject := Subject(tok)
	if subject == "" || left < time.Millisecond {
		return nil
	}
	c, err := s.pool.GetContext(ctx)
	if err != nil {
		return gredis.Unavailable("restore token", err)
	}
	defer c.Close()
	value := encodeValue(tok, s.now().Add(left), payload)
	_, err = redis.DoContext(c, ctx, "SET", key(purpose, subject), value, "PX", left.Milliseconds(), "NX")
	return gredis.Unavailable("restore token", err)
}

// Revoke deletes the subject's token of purpose, if any.
func (s *Store) Revoke(ctx context.Context, purpose, subject string) error {
	if !validSubject(subject) {
		return nil
	}
	c, err := s.pool.GetContext(ctx)
	if err != nil {
		return gredis.Unavailable("revoke token", err)
	}
	defer c.Close()
	_, err = redis.DoContext(c, ctx, "DEL", key(purpose, subject))
	return gredis.Unavailable("revoke token", err)
}
