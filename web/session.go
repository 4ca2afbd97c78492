package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Keys of the session's values. A signed-in session's record carries what
// the dashboard shows, so that a page view costs one Redis read and no
// MongoDB query.
const (
	keyRecord = "signed_in" // a *session.Record
	keyFlash  = "flash"
)

// SessionPolicy sets how long sessions live.
type SessionPolicy struct {
	Lifetime         time.Duration // absolute, from sign-in, without "remember me"
	RememberLifetime time.Duration // absolute, from sign-in, with "remember me"
	IdleTimeout      time.Duration // without "remember me"
	// TouchInterval is how often a request refreshes the idle deadline
	// (and the index's "last seen"). In between, an unchanged session is
	// not written: a page view is one Redis read.
	TouchInterval time.Duration
	// ReauthWindow is how recent a password entry must be for sensitive
	// actions.
	ReauthWindow time.Duration
}

// withDefaults fills in zero fields: 24 h, 30 days, 30 min, 1 min, 10 min.
func (p SessionPolicy) withDefaults() SessionPolicy {
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

// sessionUser is the signed-in user as the session records it.
type sessionUser struct {
	ID       string
	Username string
	Role     string
	SID      string // public session id
	IsAdmin  bool
}

type ctxKey int

const sessionLoadedKey ctxKey = 0

// sessions is the session layer the handlers use: scs for the data, the
// per-user index for listing and revoking, and the lifetime policy.
type sessions struct {
	sm      *scs.SessionManager
	index   SessionIndex
	users   Users
	policy  SessionPolicy
	now     func() time.Time
	logger  *slog.Logger
	audit   *auditLog
	metrics *metrics.Metrics
	// idleText is the idle timeout for people, such as "30 minutes".
	idleText string
}

// requestState is what loadSession keeps for one request, in one context
// value.
type requestState struct {
	// loadedToken is the token the session was loaded with ("" for a new
	// session). Saving under it only updates a session that still exists.
	loadedToken string
	facts       *facts // the session's record, once read; nil after a change
	// first holds the first read, so that a page view allocates none.
	// Later reads, after a change, get a new facts: pointers handed out
	// before (current's *sessionUser) keep the values they had.
	first     facts
	firstUsed bool
}

func stateOf(r *http.Request) *requestState { return stateFrom(r.Context()) }

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(sessionLoadedKey).(*requestState)
	return st
}

// loaded reports whether the request went through loadSession.
func loaded(r *http.Request) bool { return stateOf(r) != nil }

// facts are the request's session record, read from scs once per
// request: scs's getters each box the key and walk the request's context.
type facts struct {
	*session.Record             // never nil: noRecord when nobody is signed in
	user            sessionUser // current's answer, once asked
	haveUser        bool
}

// facts returns the request's session record. Changes go through
// setRecord, after which the next call reads again; a *facts from before
// a change is stale.
func (s *sessions) facts(ctx context.Context) *facts {
	st := stateFrom(ctx)
	if st != nil && st.facts != nil {
		return st.facts
	}
	rec, _ := s.sm.Get(ctx, keyRecord).(*session.Record)
	if rec == nil {
		rec = &noRecord
	}
	if st == nil {
		return &facts{Record: rec}
	}
	if st.firstUsed {
		st.facts = &facts{Record: rec}
	} else {
		st.first, st.firstUsed = facts{Record: rec}, true
		st.facts = &st.first
	}
	return st.facts
}

// noRecord is the record of a session nobody is signed in to. Shared:
// records are never changed in place.
var noRecord session.Record

// setRecord stores a copy of rec as the session's record.
func (s *sessions) setRecord(ctx context.Context, rec session.Record) {
	s.sm.Put(ctx, keyRecord, &rec)
	forgetFacts(ctx)
}

// confirmPassword records that the password was entered again just now.
func (s *sessions) confirmPassword(ctx context.Context) {
	rec := *s.facts(ctx).Record
	rec.ReauthAt = s.now().UTC()
	s.setRecord(ctx, rec)
}

func forgetFacts(ctx context.Context) {
	if st := stateFrom(ctx); st != nil {
		st.facts = nil
	}
}

// current returns the signed-in user, or nil.
func (s *sessions) current(r *http.Request) *sessionUser {
	if !loaded(r) {
		return nil
	}
	f := s.facts(r.Context())
	if f.UserID == "" {
		return nil
	}
	if !f.haveUser {
		f.user = sessionUser{ID: f.UserID, Username: f.Username, Role: f.Role, SID: f.SID,
			IsAdmin: f.Role == string(user.RoleAdmin)}
		f.haveUser = true
	}
	return &f.user
}

// forget drops what the request read of its session after the session
// changed hands.
func forget(r *http.Request) { forgetFacts(r.Context()) }

// lifetime is the absolute lifetime of a session.
func (s *sessions) lifetime(f *facts) time.Duration {
	if f.Remember {
		return s.policy.RememberLifetime
	}
	return s.policy.Lifetime
}

// expiry is when a signed-in session ends unless used again: the absolute
// end, or earlier the idle deadline.
func (s *sessions) expiry(f *facts) time.Time {
	end := f.AuthAt.Add(s.lifetime(f))
	if !f.Remember {
		if idle := f.Seen.Add(s.policy.IdleTimeout); idle.Before(end) {
			return idle
		}
	}
	return end
}

// signIn gives the session a new token (so a token planted before login is
// worthless: no session fixation), records the user in it and the session
// in the user's index.
func (s *sessions) signIn(r *http.Request, u *user.User, remember bool) error {
	defer forget(r)
	ctx := r.Context()
	now := s.now().UTC()
	if err := s.sm.RenewToken(ctx); err != nil {
		return err
	}
	sid, err := session.NewID()
	if err != nil {
		return err
	}
	s.setRecord(ctx, session.Record{
		UserID: u.ID, Username: u.Username, Role: string(u.Role), SID: sid,
		MemberSince: u.CreatedAt, LastLogin: u.LastLoginAt, AuthAt: now, Seen: now, Remember: remember,
	})
	f := s.facts(ctx)
	// The cookie persists only with "remember me"; the store keeps the
	// data until the absolute end either way (or the idle deadline).
	s.sm.RememberMe(ctx, remember)
	s.sm.SetDeadline(ctx, now.Add(s.lifetime(f)))
	s.metrics.SessionCreated()
	return s.index.Add(ctx, session.Info{
		ID: sid, UserID: u.ID, Created: now, AuthAt: now, LastSeen: now, ExpiresAt: s.expiry(f),
		IP: clientIP(r), Device: session.Device(r.UserAgent()), Remember: remember,
	}, s.sm.Token(ctx))
}

// renew gives the signed-in session a new token, keeping its absolute
// deadline: scs's RenewToken would restart the lifetime.
func (s *sessions) renew(r *http.Request) error {
	ctx := r.Context()
	if err := s.sm.RenewToken(ctx); err != nil {
		return err
	}
	f := s.facts(ctx)
	s.sm.SetDeadline(ctx, f.AuthAt.Add(s.lifetime(f)))
	return s.index.SetToken(ctx, f.SID, s.sm.Token(ctx), time.Time{})
}

// signOut deletes the session's data and expires its cookie.
func (s *sessions) signOut(r *http.Request) error {
	defer forget(r)
	ctx := r.Context()
	f := s.facts(ctx)
	uid, sid := f.UserID, f.SID
	if err := s.sm.Destroy(ctx); err != nil {
		return err
	}
	if uid != "" && sid != "" {
		if err := s.index.Remove(ctx, uid, sid); err != nil {
			s.logger.Warn("could not remove session from index", "err", err, "request_id", requestID(r))
		}
	}
	return nil
}

// recentlyAuthenticated reports whether the password was entered within the
// reauthentication window.
func (s *sessions) recentlyAuthenticated(r *http.Request) bool {
	f := s.facts(r.Context())
	last := f.AuthAt
	if f.ReauthAt.After(last) {
		last = f.ReauthAt
	}
	return s.now().Sub(last) < s.policy.ReauthWindow
}

// enforce applies the lifetime policy to a loaded signed-in session: it
// ends sessions past their absolute lifetime or idle deadline, and once per
// touch interval refreshes "last seen" and checks that the user still
// exists and is enabled.
func (s *sessions) enforce(r *http.Request) error {
	ctx := r.Context()
	f := s.facts(ctx)
	uid := f.UserID
	if uid == "" {
		return nil
	}
	now := s.now()
	switch {
	case !now.Before(f.AuthAt.Add(s.lifetime(f))):
		return s.end(r, "absolute lifetime reached")
	case !f.Remember && now.Sub(f.Seen) >= s.policy.IdleTimeout:
		return s.end(r, "idle timeout")
	case now.Sub(f.Seen) >= s.policy.TouchInterval:
		u, err := s.users.ByID(ctx, uid)
		switch {
		case errors.Is(err, user.ErrNotFound) || (err == nil && u.Disabled):
			s.logger.Warn("session names a deleted or disabled user", "user_id", uid, "request_id", requestID(r))
			return s.end(r, "user deleted or disabled")
		case err != nil:
			// MongoDB being down must not sign everyone out.
			s.logger.Warn("could not recheck the session's user", "err", err, "request_id", requestID(r))
		}
		rec := *f.Record
		rec.Seen = now.UTC()
		s.setRecord(ctx, rec)
		f = s.facts(ctx)
		if err := s.index.Touch(ctx, uid, f.SID, now, s.expiry(f)); err != nil {
			s.logger.Warn("could not touch session index", "err", err, "request_id", requestID(r))
		}
	}
	return nil
}

// end destroys an expired session; the request goes on as anonymous.
func (s *sessions) end(r *http.Request, reason string) error {
	s.metrics.SessionsEnded("expired", 1)
	f := s.facts(r.Context())
	s.logger.Info("session ended", "reason", reason, "user_id", f.UserID, "session_id", f.SID, "request_id", requestID(r))
	return s.signOut(r)
}

// cookieValue returns the value of the first cookie called name in the
// request's Cookie headers, as net/http's Request.Cookie would for a valid
// value, without allocating: a page view needs only this one. It does not
// check the value; loadSession does.
func cookieValue(r *http.Request, name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(textproto.TrimString(part), "=")
			if ok && k == name {
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				return v, true
			}
		}
	}
	return "", false
}

// validToken reports whether s looks like an scs token (32 random bytes in
// unpadded base64url: 43 characters). Anything else is not worth a Redis
// round trip.
func validToken(s string) bool {
	return len(s) == 43 && validTokenChars(s)
}

// validTokenChars reports whether s is all base64url characters.
func validTokenChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// loadSession loads the request's session from Redis and saves it before the
// response goes out. It replaces scs's LoadAndSave to control failures:
//   - Redis unreachable (load or save): a 503 page or JSON, never a 500;
//   - a malformed, unknown or expired cookie, or undecodable stored data:
//     treated as anonymous, logged at warn, and the cookie is cleared;
//   - too many unknown cookies from one IP (token guessing): 429;
//   - the lifetime policy (sessions.enforce): absolute and idle expiry.
func loadSession(s *sessions, rd *renderer, guard *guessGuard) func(http.Handler) http.Handler {
	sm := s.sm
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, presented := cookieValue(r, sm.Cookie.Name)
			if presented && guard != nil {
				if left, blocked := guard.isBlocked(clientIP(r)); blocked {
					rd.tooManyRequests(w, r, left, "")
					return
				}
			}
			if presented && !validToken(token) {
				rd.logger.Warn("malformed session cookie ignored", "length", len(token), "request_id", requestID(r))
				token = ""
			}
			ctx, err := sm.Load(r.Context(), token)
			if errors.Is(err, session.ErrUnavailable) {
				rd.unavailable(w, r, "redis", err)
				return
			}
			if err != nil {
				rd.logger.Warn("undecodable session ignored", "err", err, "request_id", requestID(r))
				ctx, _ = sm.Load(r.Context(), "")
			}
			loadedToken := sm.Token(ctx)
			stale := presented && loadedToken == ""
			if stale && guard != nil {
				if left, blocked := guard.miss(r, clientIP(r)); blocked {
					rd.tooManyRequests(w, r, left, "")
					return
				}
			}
			ctx = context.WithValue(ctx, sessionLoadedKey, &requestState{loadedToken: loadedToken})
			r = r.WithContext(ctx)
			if err := s.enforce(r); err != nil {
				storageError(w, r, rd, err)
				return
			}
			sw := &sessionWriter{ResponseWriter: w, r: r, s: s, rd: rd, stale: stale}
			next.ServeHTTP(sw, r)
			if !sw.wroteHeader {
				sw.WriteHeader(http.StatusOK)
			}
		})
	}
}

// sessionWriter saves the session just before the status line goes out. If
// saving fails, it sends a 503 instead and drops the handler's response.
type sessionWriter struct {
	http.ResponseWriter
	r           *http.Request
	s           *sessions
	rd          *renderer
	wroteHeader bool
	failed      bool
	// stale: the request's cookie named no session; clear it unless a new
	// session replaces it, so the browser stops sending it.
	stale bool
}

func (sw *sessionWriter) WriteHeader(code int) {
	if sw.wroteHeader {
		return
	}
	sw.wroteHeader = true
	if err := sw.save(); err != nil {
		sw.failed = true
		storageError(sw.ResponseWriter, sw.r, sw.rd, err)
		return
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *sessionWriter) Write(b []byte) (int, error) {
	if !sw.wroteHeader {
		sw.WriteHeader(http.StatusOK)
	}
	if sw.failed {
		return len(b), nil
	}
	return sw.ResponseWriter.Write(b)
}

func (sw *sessionWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

func (sw *sessionWriter) save() error {
	ctx := sw.r.Context()
	sm := sw.s.sm
	switch sm.Status(ctx) {
	case scs.Modified:
		token, expiry, err := sm.Commit(sw.s.commitContext(ctx))
		if err != nil {
			return err
		}
		sm.WriteSessionCookie(ctx, sw.ResponseWriter, token, expiry)
	case scs.Destroyed:
		sm.WriteSessionCookie(ctx, sw.ResponseWriter, "", time.Time{})
	default:
		if sw.stale {
			sm.WriteSessionCookie(ctx, sw.ResponseWriter, "", time.Time{})
		}
	}
	return nil
}

// commitContext tells the store, for saving the request's session, which
// token it was loaded with (so that a session revoked meanwhile is not
// written back) and, for a signed-in session, to keep it no longer than
// its expiry: scs knows only the absolute deadline, not the idle one. A page
// view that changed nothing never gets here.
func (s *sessions) commitContext(ctx context.Context) context.Context {
	if st := stateFrom(ctx); st != nil && st.loadedToken != "" {
		ctx = session.WithLoadedToken(ctx, st.loadedToken)
	}
	if f := s.facts(ctx); f.UserID != "" {
		ctx = session.WithExpiryCap(ctx, s.expiry(f))
	}
	return ctx
}
