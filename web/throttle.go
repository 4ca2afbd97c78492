package web

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/redis"
)

// This file holds the two throttles: the login limiter's interface (the
// limits themselves are internal/redis.LoginLimiter's; login.go runs each
// attempt through it), and the guard against session token guessing.

// LoginLimiter throttles failed logins (internal/redis.LoginLimiter).
type LoginLimiter interface {
	Begin(ctx context.Context, account, ip string) (redis.Decision, error)
	BeginDevice(ctx context.Context, device string) (redis.Decision, error)
	Succeeded(ctx context.Context, a redis.Attempt) error
	Abandon(ctx context.Context, a redis.Attempt) error
}

// WindowCounter counts events per key in fixed windows shared by every
// instance (internal/redis.WindowCounter): requests with unknown session
// cookies per IP, and sign-ups per IP.
type WindowCounter interface {
	Incr(ctx context.Context, key string) (int64, error)
	Window() time.Duration
}

// throttledMessage tells people how long to wait, in words.
func throttledMessage(d time.Duration) string {
	return "Too many failed sign-in attempts: wait " + waitWords(d) + ", then try again"
}

// waitWords says a wait in words: "a moment", "5 seconds", "a minute",
// "3 minutes".
func waitWords(d time.Duration) string {
	wait := "a moment"
	switch s := int(math.Ceil(d.Seconds())); {
	case s >= 120:
		wait = strconv.Itoa(int(math.Ceil(d.Minutes()))) + " minutes"
	case s >= 60:
		wait = "a minute"
	case s > 1:
		wait = strconv.Itoa(s) + " seconds"
	}
	return wait
}

// tokenGuessGuard counts, per IP and through Redis (so across instances),
// requests whose session cookie names no live session, and logs and
// counts in the metrics an IP that goes past the limit: token guessing.
// Past the limit, such requests get 429, and the stale cookie is cleared.
//
// Valid sessions are never refused: a token is 256 random bits, which no
// one guesses, so refusing them buys nothing, and it would lock out
// everyone behind a NAT with one stale cookie among them. For the same
// reason sign-in and sign-up are never refused (loadSession's
// signInPaths).
type tokenGuessGuard struct {
	counter    WindowCounter
	limit      int64
	ipv6Prefix int // clientKey's
	logger     *slog.Logger
	metrics    *metrics.Metrics // optional
}

func newTokenGuessGuard(c WindowCounter, limit, ipv6Prefix int, logger *slog.Logger, m *metrics.Metrics) *tokenGuessGuard {
	if c == nil {
		return nil
	}
	return &tokenGuessGuard{counter: c, limit: int64(limit), ipv6Prefix: ipv6Prefix, logger: logger, metrics: m}
}

// miss counts a cookie that named no session, for the request's client,
// and returns a *throttledError when the client is over the limit. A count
// that fails is logged and lets the request go on.
func (g *tokenGuessGuard) miss(r *http.Request) error {
	ip := clientKey(r, g.ipv6Prefix)
	n, err := g.counter.Incr(r.Context(), ip)
	if err != nil {
		g.logger.Warn("could not count unknown session cookie", "err", err, "request_id", requestID(r))
		return nil
	}
	if n <= g.limit {
		g.metrics.UnknownToken(false)
		return nil
	}
	window := g.counter.Window()
	if n == g.limit+1 {
		g.logger.Warn("unknown session cookies over the limit: possible token guessing", "ip", ip,
			"limit", g.limit, "window", window, "request_id", requestID(r))
	}
	g.metrics.UnknownToken(true)
	return &throttledError{retryAfter: window}
}

// signupLimit throttles sign-ups per IP: at most max attempts that pass
// the form's checks per window, so that a flood of sign-ups cannot take
// the hashing capacity sign-ins need (user.Service also lets sign-ups use
// at most half of it).
type signupLimit struct {
	counter    WindowCounter
	max        int64
	ipv6Prefix int // clientKey's
}

// admit counts a sign-up attempt from the request's IP, and returns a
// *throttledError past the limit. When Redis cannot count it fails
// closed, as sign-in does.
func (l signupLimit) admit(r *http.Request) error {
	n, err := l.counter.Incr(r.Context(), clientKey(r, l.ipv6Prefix))
	if err != nil {
		return err
	}
	if n > l.max {
		w := l.counter.Window()
		return &throttledError{retryAfter: w, message: "Too many accounts were created from your network: try again in " + humanDuration(w.Round(time.Minute))}
	}
	return nil
}
