package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
)

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

// errThrottled means the login was refused before the password was checked.
var errThrottled = errors.New("too many failed login attempts")

// throttledError carries how long to wait.
type throttledError struct{ retryAfter time.Duration }

func (e *throttledError) Error() string { return errThrottled.Error() }
func (e *throttledError) Unwrap() error { return errThrottled }

// authenticate runs one login attempt through the throttle. It returns the
// user, or user.ErrInvalidCredentials, a *throttledError, or a storage
// error. When Redis cannot be asked it fails closed: no password is checked.
func authenticate(r *http.Request, s *sessions, users Users, limiter LoginLimiter, username, password string) (*user.User, error) {
	logger := s.logger
	account, err := user.NormalizeUsername(username)
	if err != nil {
		// Such a name cannot exist; throttle it by IP under one bucket.
		account = "~invalid"
	}
	ip := clientIP(r)
	d, err := limiter.Begin(r.Context(), account, ip)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", session.ErrUnavailable, err)
	}
	if d.Blocked != redis.BlockedNone {
		s.audit.event(r, auditLoginThrottled, "", "", slog.String("reason", blockedReason(d.Blocked)), slog.Duration("retry_after", d.RetryAfter))
		return nil, &throttledError{retryAfter: d.RetryAfter}
	}
	u, err := users.Authenticate(r.Context(), username, password)
	if err != nil && !errors.Is(err, user.ErrInvalidCredentials) {
		if errors.Is(err, user.ErrBusy) {
			s.metrics.Login("busy")
		} else {
			s.metrics.Login("error")
		}
		// Not a verdict on the password: do not count it.
		if aerr := limiter.Abandon(context.WithoutCancel(r.Context()), d.Attempt); aerr != nil {
			logger.Warn("could not withdraw a login attempt", "err", aerr, "request_id", requestID(r))
		}
	}
	if err != nil {
		if errors.Is(err, user.ErrInvalidCredentials) {
			// The account may not exist: log the normalised name only
			// when it is valid, never the password.
			s.audit.event(r, auditLoginFailure, "", "", slog.String("account", account))
		}
		return nil, err
	}
	if err := limiter.Succeeded(r.Context(), d.Attempt); err != nil {
		// The login itself is valid; stale counters only delay this
		// account's next failures.
		logger.Warn("could not clear login failures", "err", err, "request_id", requestID(r))
	}
	return u, nil
}

func blockedReason(b int) string {
	switch b {
	case redis.BlockedIP:
		return "ip"
	case redis.BlockedPair:
		return "account_and_ip"
	case redis.BlockedAccount:
		return "account_backoff"
	}
	return "unknown"
}

// retryAfterSeconds is the Retry-After value, rounded up.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
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
	return "Too many failed sign-in attempts. Please wait " + wait + " and try again."
}

// clientIPMiddleware records the client's IP for throttling and logs when
// the peer is one of the trusted proxies: what the proxy says in header
// (X-Forwarded-For or X-Real-IP). Without trusted proxies it returns nil:
// clientIP then reads the TCP peer from the request itself.
func clientIPMiddleware(trusted []netip.Prefix, header string) func(http.Handler) http.Handler {
	if len(trusted) == 0 {
		return nil
	}
	prefixes := make([]string, len(trusted))
	for i, p := range trusted {
		prefixes[i] = p.String()
	}
	if http.CanonicalHeaderKey(header) == "X-Real-Ip" {
		return middleware.ClientIPFromHeader("X-Real-IP", prefixes...)
	}
	return middleware.ClientIPFromXFF(prefixes...)
}

// clientIP is the client's address as clientIPMiddleware found it, or the
// TCP peer when a trusted proxy sent nothing usable.
func clientIP(r *http.Request) string {
	if ip := middleware.GetClientIP(r.Context()); ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// guessGuard remembers, per app instance, the IPs that went past the limit
// of unknown session cookies. Once an IP is blocked its cookie-bearing
// requests get 429 before any Redis lookup, so a guesser learns nothing;
// the count itself is shared through Redis.
type guessGuard struct {
	counter GuessCounter
	limit   int64
	logger  *slog.Logger
	now     func() time.Time

	mu      sync.Mutex
	blocked map[string]time.Time // ip -> until
}

// maxBlocked bounds the guard's memory.
const maxBlocked = 100000

func newGuessGuard(c GuessCounter, limit int, logger *slog.Logger, now func() time.Time) *guessGuard {
	if c == nil {
		return nil
	}
	return &guessGuard{counter: c, limit: int64(limit), logger: logger, now: now, blocked: map[string]time.Time{}}
}

// isBlocked reports whether ip is blocked, and for how long.
func (g *guessGuard) isBlocked(ip string) (time.Duration, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.blocked[ip]
	if !ok {
		return 0, false
	}
	left := until.Sub(g.now())
	if left <= 0 {
		delete(g.blocked, ip)
		return 0, false
	}
	return left, true
}

// miss counts an unknown cookie from ip and reports whether ip is now over
// the limit.
func (g *guessGuard) miss(r *http.Request, ip string) (time.Duration, bool) {
	n, err := g.counter.Incr(r.Context(), ip)
	if err != nil {
		g.logger.Warn("could not count unknown session cookie", "err", err, "request_id", requestID(r))
		return 0, false
	}
	if n <= g.limit {
		return 0, false
	}
	if n == g.limit+1 {
		g.logger.Warn("unknown session cookies over the limit: possible token guessing", "ip", ip,
			"limit", g.limit, "window", g.counter.Window(), "request_id", requestID(r))
	}
	window := g.counter.Window()
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
			return window, true // full: refuse, but remember nothing more
		}
	}
	g.blocked[ip] = g.now().Add(window)
	return window, true
}
