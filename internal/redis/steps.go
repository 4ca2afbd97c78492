package redis

import (
	"context"
	"time"

	"github.com/gomodule/redigo/redis"
)

// TOTPSteps remembers, per user, the last time step whose one-time code
// was accepted (mfa.Steps), so that each code works once: RFC 6238
// section 5.2 says a verifier must not accept a code's second use. One
// key per user, in the user's hash slot: it works on a Redis Cluster.
type TOTPSteps struct {
	conns Conns
	// ttl outlives every step a code can still be accepted for.
	ttl time.Duration
}

// NewTOTPSteps returns the steps on conns; ttl must exceed the time a
// code stays valid (the period times the skew's steps either side).
func NewTOTPSteps(conns Conns, ttl time.Duration) *TOTPSteps {
	return &TOTPSteps{conns: conns, ttl: ttl}
}

// acceptStep sets the key to the step and answers 1 when the step is
// later than the one stored, and answers 0 otherwise: check and set in
// one script, so two requests with one code cannot both pass.
var acceptStep = redis.NewScript(1, `
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
local step = tonumber(ARGV[1])
if step <= last then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)

// Accept reports whether step is later than the user's last accepted
// step, and records it if so. Errors wrap ErrUnavailable.
func (s *TOTPSteps) Accept(ctx context.Context, userID string, step int64) (bool, error) {
	k := "gatehouse:totp:{" + userID + "}"
	c, err := s.conns.Conn(ctx, k)
	if err != nil {
		return false, Unavailable("totp steps", err)
	}
	defer c.Close()
	n, err := redis.Int(acceptStep.DoContext(ctx, c, k, step, s.ttl.Milliseconds()))
	if err != nil {
		return false, Unavailable("totp steps", err)
	}
	return n == 1, nil
}
