package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Keys of the session's values in scs. A signed-in session's record
// carries what the pages show, so that a page view costs one Redis read
// and no MongoDB query.
const (
	keyRecord = session.RecordKey // a *session.Record
	keyFlash  = "flash"           // a string shown once
	// keyPending holds a sign-in waiting for its second factor
	// (pendingLogin), in a session that is not signed in.
	keyPending = "pending_2fa"
)

// sessions is the request's session as handlers use it: who is signed in
// (currentUser), signing in and out, a new token for a privilege step, and
// one-time messages. It keeps the session's own entry in the per-user
// index in step; listing and revoking other sessions is the index's job,
// which handlers that need it get directly.
type sessions struct {
	sm     *scs.SessionManager
	index  SessionIndex
	policy session.Policy
	// maxPerUser caps a user's live sessions: signing in past it ends
	// the least recently used.
	maxPerUser int
	now        func() time.Time
	logger     *slog.Logger
	metrics    *metrics.Metrics // counts sign-ins; optional
	// factors are the second factors: sign-in asks for them, and a step
	// up may use them instead of the password.
	factors *factors
}

func newSessions(sm *scs.SessionManager, index SessionIndex, p session.Policy, maxPerUser int, now func() time.Time, logger *slog.Logger, m *metrics.Metrics) *sessions {
	return &sessions{sm: sm, index: index, policy: p, maxPerUser: maxPerUser, now: now, logger: logger, metrics: m}
}

// loaded is what loadSession keeps for one request, in one context value.
type loaded struct {
	// token is the token the session was loaded with ("" for a new
	// session); saving under it only updates a session that still exists.
	token string
	// rec is the signed-in record, nil when anonymous. Records are
	// replaced, never changed: a pointer handed out stays as it was.
	rec *session.Record
	// ended says why the request's session has just ended, for the
	// person: whyExpired or whySecurity; "" when it did not.
	ended string
	// pending is the sign-in waiting for a second factor, nil when none:
	// such a session is anonymous to every page but /login/2fa.
	pending *pendingLogin
	// touched: rec was touched in Redis (session.TouchDone) but not put
	// in the session, so that a page view that changes nothing else
	// saves nothing.
	touched bool
}

// Why a session ended, as ?why= tells the login page.
const (
	whyExpired   = "expired"   // the idle or absolute timeout
	whySecurity  = "security"  // the user's password, role or status changed
	whyElsewhere = "elsewhere" // signed out from another of the user's sessions
	whyTimedOut  = "timeout"   // a sign-in waited too long for its second factor
)

// whyFor is the ?why= of a session ended from elsewhere for reason r.
func whyFor(r session.EndReason) string {
	if r == session.EndedForSecurity {
		return whySecurity
	}
	return whyElsewhere
}

type loadedKey struct{}

func withLoaded(ctx context.Context, l *loaded) context.Context {
	return context.WithValue(ctx, loadedKey{}, l)
}

func loadedFrom(ctx context.Context) *loaded {
	l, _ := ctx.Value(loadedKey{}).(*loaded)
	return l
}

// currentUser returns the signed-in session's record, or nil: for an
// anonymous visitor, or a request that did not load a session (health
// checks, static files, or one refused before).
func currentUser(r *http.Request) *session.Record {
	if l := loadedFrom(r.Context()); l != nil {
		return l.rec
	}
	return nil
}

// setRecord stores a copy of rec as the session's record.
func (s *sessions) setRecord(ctx context.Context, rec session.Record) {
	s.sm.Put(ctx, keyRecord, &rec)
	if l := loadedFrom(ctx); l != nil {
		l.rec = &rec
	}
}

// signIn gives the session a new token (so a token planted before login is
// worthless: no session fixation), records the user in it and the session
// in the user's index, and ends the user's least recently used sessions
// past the cap: their public ids are evicted. amr is how the user
// authenticated. A failure to evict is logged, not fatal.
func (s *sessions) signIn(r *http.Request, u *user.User, remember bool, amr session.Methods) (evicted []string, err error) {
	ctx := r.Context()
	now := s.now().UTC()
	if err := s.sm.RenewToken(ctx); err != nil {
		return nil, err
	}
	sid, err := session.NewID()
	if err != nil {
		return nil, err
	}
	rec := session.Record{
		UserID: u.ID, Username: u.Username, Role: string(u.Role), SID: sid,
		MemberSince: u.CreatedAt, LastLogin: u.LastLoginAt, AuthAt: now, Seen: now, Remember: remember,
		Stamp: u.SecurityStamp, IP: clientIP(r), Device: session.Device(r.UserAgent()), AMR: amr,
	}
	s.sm.Remove(ctx, keyPending)
	s.setRecord(ctx, rec)
	// The cookie persists only with "remember me"; the store keeps the
	// data until the absolute end either way (or the idle deadline).
	s.sm.RememberMe(ctx, remember)
	s.sm.SetDeadline(ctx, s.policy.AbsoluteEnd(&rec))
	s.metrics.SessionCreated()
	if err := s.index.Add(ctx, session.Info{
		ID: sid, UserID: u.ID, Created: now, AuthAt: now, LastSeen: now, ExpiresAt: s.policy.ExpiresAt(&rec),
		Ends: s.policy.AbsoluteEnd(&rec), IP: rec.IP, Device: rec.Device, Remember: remember,
	}, s.sm.Token(ctx)); err != nil {
		return nil, err
	}
	if s.maxPerUser > 0 {
		if evicted, err = s.index.Trim(ctx, u.ID, sid, s.maxPerUser); err != nil {
			s.logger.Warn("could not end sessions past the cap", "err", err, "request_id", requestID(r))
		}
	}
	return evicted, nil
}

// renew gives the signed-in session a new token, keeping its absolute
// deadline: scs's RenewToken would restart the lifetime.
func (s *sessions) renew(r *http.Request) error {
	ctx := r.Context()
	rec := currentUser(r)
	if err := s.sm.RenewToken(ctx); err != nil {
		return err
	}
	s.sm.SetDeadline(ctx, s.policy.AbsoluteEnd(rec))
	return s.index.SetToken(ctx, rec.UserID, rec.SID, s.sm.Token(ctx))
}

// restamp records the user's new security stamp in this session, after a
// change this session made itself (a password change, signing out the
// others), so that the change ends the other sessions and not this one.
func (s *sessions) restamp(r *http.Request, stamp string) {
	rec := *currentUser(r)
	rec.Stamp = stamp
	s.setRecord(r.Context(), rec)
}

// reauthenticated records that the user authenticated again just now
// with m (the password, a code or a passkey): a privilege step, so the
// session gets a new token, keeping its absolute deadline, and m joins
// its methods (amr), which may raise its assurance level.
func (s *sessions) reauthenticated(r *http.Request, m session.Methods) error {
	if err := s.renew(r); err != nil {
		return err
	}
	rec := currentUser(r).Reauthenticated(s.now(), m)
	s.setRecord(r.Context(), rec)
	return nil
}

// signOut deletes the session's data and expires its cookie.
func (s *sessions) signOut(r *http.Request) error {
	ctx := r.Context()
	rec := currentUser(r)
	if err := s.sm.Destroy(ctx); err != nil {
		return err
	}
	if l := loadedFrom(ctx); l != nil {
		l.rec = nil
	}
	if rec != nil && rec.SID != "" {
		if err := s.index.Remove(ctx, rec.UserID, rec.SID); err != nil {
			s.logger.Warn("could not remove session from index", "err", err, "request_id", requestID(r))
		}
	}
	return nil
}

// recentlyAuthenticated reports whether the user authenticated (with any
// of their factors) within the policy's reauthentication window.
func (s *sessions) recentlyAuthenticated(r *http.Request) bool {
	u := currentUser(r)
	return u != nil && s.policy.RecentlyAuthenticated(u, s.now())
}

// stepUpFactors says which factors other than the password the signed-in
// user can confirm a sensitive action with: a code (an authenticator
// app), a passkey. A store that cannot answer offers the password only.
func (s *sessions) stepUpFactors(r *http.Request) (code, passkey bool) {
	u := currentUser(r)
	if u == nil {
		return false, false
	}
	if s.factors == nil || s.factors.totp == nil {
		return false, false
	}
	code, _ = s.factors.totp.Enrolled(r.Context(), u.UserID)
	if s.factors.passkeys != nil {
		n, _ := s.factors.passkeys.Count(r.Context(), u.UserID)
		passkey = n > 0
	}
	return code, passkey
}

// touchWithin says for people how soon a session notices a change of its
// user's security stamp: "1 minute".
func (s *sessions) touchWithin() string { return humanDuration(s.policy.TouchInterval) }

// flash keeps msg to show on the next page.
func (s *sessions) flash(r *http.Request, msg string) { s.sm.Put(r.Context(), keyFlash, msg) }

// popFlash returns and removes the one-time message, if any. It only writes
// to the session when there was a message.
func (s *sessions) popFlash(r *http.Request) string {
	if loadedFrom(r.Context()) == nil || !s.sm.Exists(r.Context(), keyFlash) {
		return ""
	}
	return s.sm.PopString(r.Context(), keyFlash)
}
