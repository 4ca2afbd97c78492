package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Keys of the values a signed-in session holds. The session carries what the
// dashboard shows, so that a page view costs one Redis read and no MongoDB
// query.
const (
	keyUserID      = "user_id"
	keyUsername    = "username"
	keyRole        = "role"
	keyMemberSince = "member_since"
	keyLastLogin   = "previous_login_at"
	keyAuthAt      = "auth_at"
	keyFlash       = "flash"
)

// sessionUser is the signed-in user as the session records it.
type sessionUser struct {
	ID       string
	Username string
	Role     string
}

type ctxKey int

const sessionLoadedKey ctxKey = 0

// currentUser returns the signed-in user, or nil.
func currentUser(sm *scs.SessionManager, r *http.Request) *sessionUser {
	ctx := r.Context()
	if ctx.Value(sessionLoadedKey) == nil {
		return nil
	}
	id := sm.GetString(ctx, keyUserID)
	if id == "" {
		return nil
	}
	return &sessionUser{ID: id, Username: sm.GetString(ctx, keyUsername), Role: sm.GetString(ctx, keyRole)}
}

// signIn gives the session a new token (so a token planted before login is
// worthless: no session fixation) and records the user in it.
func signIn(ctx context.Context, sm *scs.SessionManager, u *user.User, now time.Time) error {
	if err := sm.RenewToken(ctx); err != nil {
		return err
	}
	sm.Put(ctx, keyUserID, u.ID)
	sm.Put(ctx, keyUsername, u.Username)
	sm.Put(ctx, keyRole, string(u.Role))
	sm.Put(ctx, keyMemberSince, u.CreatedAt)
	sm.Put(ctx, keyLastLogin, u.LastLoginAt)
	sm.Put(ctx, keyAuthAt, now.UTC())
	return nil
}

// validToken reports whether s looks like an scs token (32 random bytes in
// unpadded base64url: 43 characters). Anything else is not worth a Redis
// round trip.
func validToken(s string) bool {
	if len(s) != 43 {
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

// loadSession loads the request's session from Redis and saves it before the
// response goes out. It replaces scs's LoadAndSave to control failures:
//   - Redis unreachable (load or save): a 503 page or JSON, never a 500;
//   - a malformed, unknown or expired cookie, or undecodable stored data:
//     treated as anonymous, logged at warn, and the cookie is cleared;
//   - too many unknown cookies from one IP (token guessing): 429.
func loadSession(sm *scs.SessionManager, rd *renderer, guard *guessGuard) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Vary", "Cookie")
			var token string
			c, err := r.Cookie(sm.Cookie.Name)
			presented := err == nil
			if presented && guard != nil {
				if left, blocked := guard.isBlocked(clientIP(r)); blocked {
					rd.tooManyRequests(w, r, left, "")
					return
				}
			}
			if presented {
				token = c.Value
				if !validToken(token) {
					rd.logger.Warn("malformed session cookie ignored", "length", len(token), "request_id", requestID(r))
					token = ""
				}
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
			stale := presented && sm.Token(ctx) == ""
			if stale && guard != nil {
				if left, blocked := guard.miss(r, clientIP(r)); blocked {
					rd.tooManyRequests(w, r, left, "")
					return
				}
			}
			ctx = context.WithValue(ctx, sessionLoadedKey, true)
			r = r.WithContext(ctx)
			sw := &sessionWriter{ResponseWriter: w, r: r, sm: sm, rd: rd, stale: stale}
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
	sm          *scs.SessionManager
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
	switch sw.sm.Status(ctx) {
	case scs.Modified:
		token, expiry, err := sw.sm.Commit(ctx)
		if err != nil {
			return err
		}
		sw.sm.WriteSessionCookie(ctx, sw.ResponseWriter, token, expiry)
	case scs.Destroyed:
		sw.sm.WriteSessionCookie(ctx, sw.ResponseWriter, "", time.Time{})
	default:
		if sw.stale {
			sw.sm.WriteSessionCookie(ctx, sw.ResponseWriter, "", time.Time{})
		}
	}
	return nil
}
