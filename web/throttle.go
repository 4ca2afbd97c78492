package web

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/redis"
)

// This file holds the two throttles: the login limiter's interface (the
// limits themselves are internal/redis.LoginLimiter's; login.go runs each
// attempt through it), and the guard against session token guessing.

// LoginLimiter throttles failed logins (internal/redis.LoginLimiter).
type LoginLimiter interface {
	Begin(ctx context.Context, account, ip string) (redis.Decision, error)
	Succeeded(ctx context.Context, a redis.Attempt) error
	Abandon(ctx context.Context, a redis.Attempt) error
}

// GuessCounter counts requests with unknown session cookies per IP
// (internal/redis.WindowCounter).
type GuessCounter interface {
	Incr(ctx context.Context, key string) (int64, error)
	Window() time.Duration
}

// throttledMessage tells people how long to wait, in words.
func throttledMessage(d time.Duration) string {
	wait := "a moment"
	switch s := int(math.Ceil(d.Seconds())); {
	case s >= 120:
		wait = strconv.Itoa(int(math.Ceil(d.Minutes()))) + " minutes"
	case s >= 60:
		wait = "a minute"
	case s > 1:
		wait = strconv.Itoa(s) + " seconds"
	}
	return "Too many failed sign-in attempts. Please wait " + wait + " and try again"
}

// tokenGuessGuard remembers, per app instance, the IPs that went past the limit
// of unknown session cookies (session token guessing). Once an IP is
// blocked its cookie-bearing requests get 429 before any Redis lookup, so a
// guesser learns nothing; the count itself is shared through Redis.
type tokenGuessGuard struct {
	counter GuessCounter
	limit   int64
	logger  *slog.Logger
	now     func() time.Time

	mu      sync.Mutex
	blocked map[string]time.Time // ip -> until
}

// maxBlocked bounds the guard's memory.
const maxBlocked = 100000

func newTokenGuessGuard(c GuessCounter, limit int, logger *slog.Logger, now func() time.Time) *tokenGuessGuard {
	if c == nil {
		return nil
	}
	return &tokenGuessGuard{counter: c, limit: int64(limit), logger: logger, now: now, blocked: map[string]time.Time{}}
}

// check returns a *throttledError while ip is blocked.
func (g *tokenGuessGuard) check(ip string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.blocked[ip]
	if !ok {
		return nil
	}
	left := until.Sub(g.now())
	if left <= 0 {
		delete(g.blocked, ip)
		return nil
	}
	return &throttledError{retryAfter: left}
}

// miss counts an unknown cookie from ip and returns a *throttledError once
// ip is over the limit. A count that fails is logged and lets the request
// go on.
func (g *tokenGuessGuard) miss(r *http.Request, ip string) error {
	n, err := g.counter.Incr(r.Context(), ip)
	if err != nil {
		g.logger.Warn("could not count unknown session cookie", "err", err, "request_id", requestID(r))
		return nil
	}
	if n <= g.limit {
		return nil
	}
	window := g.counter.Window()
	if n == g.limit+1 {
		g.logger.Warn("unknown session cookies over the limit: possible token guessing", "ip", ip,
			"limit", g.limit, "window", window, "request_id", requestID(r))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.blocked) >= maxBlocked {
		now := g.now()
		for k, until := range g.blocked {
			if until.Before(now) {
				delete(g.blocked, k)
			}
		}
		if len(g.blocked) >= maxBlocked {
			return &throttledError{retryAfter: window} // full: refuse, but remember nothing more
		}
	}
	g.blocked[ip] = g.now().Add(window)
	return &throttledError{retryAfter: window}
}
