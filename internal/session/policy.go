package session

import "time"

// Policy is how long sessions live, after OWASP's Session Management Cheat
// Sheet: an absolute timeout counted from sign-in (longer with "remember
// me"), an idle timeout (none with "remember me", whose point is to
// outlast idleness), and a window after a password entry within which
// sensitive actions need no new one. Its methods are pure: the caller
// passes the time.
type Policy struct {
	Lifetime         time.Duration // absolute, from sign-in, without "remember me"
	RememberLifetime time.Duration // absolute, from sign-in, with "remember me"
	IdleTimeout      time.Duration // without "remember me"
	// TouchInterval is how often a request may refresh a session's "last
	// seen" and idle deadline. In between, an unchanged session is not
	// written: a page view is one Redis read. The idle timeout is thus
	// enforced to within TouchInterval.
	TouchInterval time.Duration
	// ReauthWindow is how recent a password entry must be for sensitive
	// actions (OWASP: re-authentication).
	ReauthWindow time.Duration
}

// WithDefaults fills in zero or negative fields: a lifetime of 24 h, 30
// days with "remember me", an idle timeout of 30 minutes, a touch interval
// of 1 minute and a re-authentication window of 10 minutes.
func (p Policy) WithDefaults() Policy {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&p.Lifetime, 24*time.Hour)
	def(&p.RememberLifetime, 30*24*time.Hour)
	def(&p.IdleTimeout, 30*time.Minute)
	def(&p.TouchInterval, time.Minute)
	def(&p.ReauthWindow, 10*time.Minute)
	return p
}

// MaxAge is the absolute lifetime of r: RememberLifetime with "remember me",
// Lifetime without.
func (p Policy) MaxAge(r *Record) time.Duration {
	if r.Remember {
		return p.RememberLifetime
	}
	return p.Lifetime
}

// AbsoluteEnd is when r ends however much it is used: sign-in plus MaxAge.
func (p Policy) AbsoluteEnd(r *Record) time.Time { return r.AuthAt.Add(p.MaxAge(r)) }

// ExpiresAt is when r ends unless it is used again: its absolute end, or
// earlier its idle deadline (last seen plus IdleTimeout, without "remember
// me").
func (p Policy) ExpiresAt(r *Record) time.Time {
	end := p.AbsoluteEnd(r)
	if !r.Remember {
		if idle := r.Seen.Add(p.IdleTimeout); idle.Before(end) {
			return idle
		}
	}
	return end
}

// Verdict is what Check decides about a signed-in session at a moment.
type Verdict int

const (
	// Live: the session is valid and was touched recently enough.
	Live Verdict = iota
	// TouchDue: the session is valid, and TouchInterval has passed since
	// it was last seen: refresh Seen (Touched) and recheck the user.
	TouchDue
	// ExpiredAbsolute: past its absolute lifetime (MaxAge).
	ExpiredAbsolute
	// ExpiredIdle: unused for IdleTimeout, without "remember me".
	ExpiredIdle
)

// Expired reports whether the session must end.
func (v Verdict) Expired() bool { return v == ExpiredAbsolute || v == ExpiredIdle }

// String describes v for logs.
func (v Verdict) String() string {
	switch v {
	case Live:
		return "live"
	case TouchDue:
		return "touch due"
	case ExpiredAbsolute:
		return "absolute lifetime reached"
	case ExpiredIdle:
		return "idle timeout"
	}
	return "unknown"
}

// Check decides what to do with the signed-in session r at now. The
// absolute end is checked first: a session past it ends even if it is
// also idle.
func (p Policy) Check(r *Record, now time.Time) Verdict {
	switch idle := now.Sub(r.Seen); {
	case !now.Before(p.AbsoluteEnd(r)):
		return ExpiredAbsolute
	case !r.Remember && idle >= p.IdleTimeout:
		return ExpiredIdle
	case idle >= p.TouchInterval:
		return TouchDue
	}
	return Live
}

// RecentlyAuthenticated reports whether the password was entered for r,
// at sign-in or confirmed since, within ReauthWindow of now.
func (p Policy) RecentlyAuthenticated(r *Record, now time.Time) bool {
	last := r.AuthAt
	if r.ReauthAt.After(last) {
		last = r.ReauthAt
	}
	return now.Sub(last) < p.ReauthWindow
}
