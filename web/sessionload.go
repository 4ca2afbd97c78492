package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
)

// validToken reports whether s looks like an scs token (32 random bytes in
// unpadded base64url: 43 characters). Anything else is not worth a Redis
// round trip.
func validToken(s string) bool {
	return len(s) == 43 && base64URL(s)
}

// validPublicID accepts what session.NewID makes: a public session id of
// 22 base64url characters.
func validPublicID(id string) bool {
	return len(id) == 22 && base64URL(id)
}

// base64URL reports whether s is all base64url characters.
func base64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// maxSessionCookies bounds the cookies of the session's name a request may
// make us look up: each costs a Redis round trip.
const maxSessionCookies = 4

// loadSession loads the request's session from Redis and saves it before the
// response goes out. It replaces scs's LoadAndSave to control failures:
//   - Redis unreachable (load or save): a 503 page or JSON, never a 500;
//   - a malformed, unknown or expired cookie, or undecodable stored data:
//     treated as anonymous, logged at warn, and the cookie is cleared;
//   - several cookies of the session's name (another app on the host, or a
//     sibling subdomain, set one too): the first that names a live session
//     is used, and none is cleared, since the others may not be ours;
//   - token guessing (unknown cookies from one IP past the limit): 429,
//     clearing the cookie, except on signInPaths, which their own limiter
//     guards, so that a stale cookie never keeps its owner from signing in;
//   - the lifetime policy (session.Policy): absolute and idle expiry, and
//     once per touch interval a refresh that rechecks the user in users.
func loadSession(sess *sessions, users Users, guard *tokenGuessGuard, rd *renderer, signInPaths ...string) func(http.Handler) http.Handler {
	sm := sess.sm
	return func(next http.Handler) http.Handler {
		return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
			cookies := r.CookiesNamed(sm.Cookie.Name)
			several := len(cookies) > 1
			if several {
				rd.logger.Warn("several session cookies in one request; using the one that names a live session",
					"count", len(cookies), "request_id", requestID(r))
			}
			// The store notes a session ended from elsewhere (its
			// tombstone), so that the person hears why.
			noteCtx, note := session.WithEndNote(r.Context())
			ctx, err := loadFirstLive(r.WithContext(noteCtx), sm, cookies, rd)
			if err != nil {
				return err
			}
			l := &loaded{token: sm.Token(ctx)}
			stale := len(cookies) > 0 && l.token == ""
			if stale && note.Reason != 0 {
				l.ended = whyFor(note.Reason)
			}
			// A revoked session's cookie is no guess.
			if stale && note.Reason == 0 && guard != nil {
				if err := guard.miss(r); err != nil && !slices.Contains(signInPaths, r.URL.Path) {
					if !several {
						sm.WriteSessionCookie(ctx, w, "", time.Time{})
					}
					return err
				}
			}
			if rec, _ := sm.Get(ctx, keyRecord).(*session.Record); rec != nil && rec.SignedIn() {
				l.rec = rec
			} else if l.token != "" {
				loadPending(ctx, sess, l)
			}
			r = r.WithContext(withLoaded(ctx, l))
			if err := enforce(r, sess, users); err != nil {
				return err
			}
			sw := &sessionWriter{ResponseWriter: w, r: r, sess: sess, rd: rd, stale: stale && !several}
			next.ServeHTTP(sw, r)
			if !sw.wroteHeader {
				sw.WriteHeader(http.StatusOK)
			}
			return nil
		})
	}
}

// loadFirstLive loads the session of the first cookie that names a live
// one, trying at most maxSessionCookies well-formed tokens; with none, it
// loads a new, empty session. Its only error is Redis being unavailable:
// undecodable stored data is logged and treated as no session.
func loadFirstLive(r *http.Request, sm *scs.SessionManager, cookies []*http.Cookie, rd *renderer) (context.Context, error) {
	tries := 0
	for _, c := range cookies {
		if !validToken(c.Value) {
			rd.logger.Warn("malformed session cookie ignored", "length", len(c.Value), "request_id", requestID(r))
			continue
		}
		if tries++; tries > maxSessionCookies {
			break
		}
		ctx, err := sm.Load(r.Context(), c.Value)
		switch {
		case errors.Is(err, redis.ErrUnavailable):
			return nil, err
		case err != nil:
			rd.logger.Warn("undecodable session ignored", "err", err, "request_id", requestID(r))
		case sm.Token(ctx) != "":
			return ctx, nil
		}
	}
	return sm.Load(r.Context(), "")
}

// enforce applies the lifetime policy to a loaded signed-in session: it
// ends sessions past their absolute lifetime or idle deadline, and once per
// touch interval refreshes "last seen" and checks that the user still
// exists, is enabled and has the security stamp the session was signed in
// with: a role change, a disable, a password change or "sign out
// everywhere" ends the session within a touch interval even when revoking
// it in Redis failed.
func enforce(r *http.Request, sess *sessions, users Users) error {
	rec := currentUser(r)
	if rec == nil {
		return nil
	}
	now := sess.now()
	switch v := sess.policy.Check(rec, now); v {
	case session.ExpiredAbsolute, session.ExpiredIdle:
		return end(r, sess, v.String(), whyExpired)
	case session.TouchDue:
		// Of the requests that find the touch due at once, on every
		// instance, one wins it (session.Index.Touch, one round trip);
		// only that one rechecks the user.
		ctx := r.Context()
		touched := rec.Touched(now)
		l := loadedFrom(ctx)
		res, err := sess.index.Touch(ctx, l.token, rec, touched.Seen, sess.policy.ExpiresAt(&touched))
		if err != nil {
			sess.logger.Warn("could not touch session", "err", err, "request_id", requestID(r))
			return nil
		}
		if res != session.TouchDone && res != session.TouchSave {
			return nil
		}
		u, err := users.ByID(ctx, rec.UserID)
		switch {
		case errors.Is(err, user.ErrNotFound) || (err == nil && u.Disabled):
			sess.logger.Warn("session names a deleted or disabled user", "user_id", rec.UserID, "request_id", requestID(r))
			return end(r, sess, "user deleted or disabled", whySecurity)
		case err == nil && !rec.SameStamp(u.SecurityStamp):
			sess.logger.Info("session outlived a change of the user's privileges", "user_id", rec.UserID, "request_id", requestID(r))
			return end(r, sess, "security stamp changed", whySecurity)
		case err != nil:
			// MongoDB being down must not sign everyone out.
			sess.logger.Warn("could not recheck the session's user", "err", err, "request_id", requestID(r))
		}
		if res == session.TouchSave {
			sess.setRecord(ctx, touched)
		} else {
			// Already in Redis: nothing to save, no cookie to send,
			// unless the request changes the session anyway (save).
			l.rec, l.touched = &touched, true
		}
	}
	return nil
}

// end destroys an expired session; the request goes on as anonymous, and
// the login page can tell the person why (for).
func end(r *http.Request, sess *sessions, reason, why string) error {
	sess.metrics.SessionsEnded("expired", 1)
	rec := currentUser(r)
	sess.logger.Info("session ended", "reason", reason, "user_id", rec.UserID, "session_id", rec.SID, "request_id", requestID(r))
	if l := loadedFrom(r.Context()); l != nil {
		l.ended = why
	}
	return sess.signOut(r)
}

// sessionWriter saves the session just before the status line goes out. If
// saving fails, it sends a 503 instead and drops the handler's response.
type sessionWriter struct {
	http.ResponseWriter
	r           *http.Request
	sess        *sessions
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
		sw.rd.fail(sw.ResponseWriter, sw.r, err)
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

// save commits a changed session with its hints (session.CommitHints) and
// sends its cookie, or expires the cookie of a destroyed or stale one. A
// page view that changed nothing writes nothing.
func (sw *sessionWriter) save() error {
	ctx := sw.r.Context()
	sm := sw.sess.sm
	switch sm.Status(ctx) {
	case scs.Modified:
		h := session.CommitHints{}
		if l := loadedFrom(ctx); l != nil {
			if l.touched && l.rec != nil {
				// Keep the touch that Touch wrote in Redis.
				sm.Put(ctx, keyRecord, l.rec)
			}
			h.LoadedToken = l.token
			if l.rec != nil {
				h.ExpiresAt = sw.sess.policy.ExpiresAt(l.rec)
			}
		}
		token, expiry, err := sm.Commit(session.WithCommitHints(ctx, h))
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
