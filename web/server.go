// Package web is Gatehouse's HTTP layer: routes, handlers, middleware, HTML
// rendering, the JSON API and the session cookie. It is the only package
// that knows about net/http, chi, scs's cookies and html/template.
//
// Where things live, starting from routes.go, which lists every route:
//   - server.go: Deps and NewServer, which builds the shared pieces;
//   - a file per feature for the handlers: login.go (and the login flow),
//     signup.go, dashboard.go, account_sessions.go, password.go (and the
//     confirm page), admin.go, ops.go (health, readiness, static files);
//   - session.go: the request's session (who is signed in, sign in, sign
//     out, renew); sessionload.go: loading it from Redis and saving it;
//   - errors.go: the one table that turns errors into responses;
//   - middleware.go, throttle.go (login limits, token guessing),
//     clientip.go, render.go, forms.go, audit.go.
package web

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Check is a readiness probe of one dependency.
type Check struct {
	Name string // shown in /readyz, e.g. "redis"
	Ping func(ctx context.Context) error
}

// Users is what the handlers need from the user domain (user.Service).
type Users interface {
	Register(ctx context.Context, username, password string) (*user.User, error)
	Authenticate(ctx context.Context, username, password string) (*user.User, error)
	ByID(ctx context.Context, id string) (*user.User, error)
	CheckPassword(ctx context.Context, id, password string) error
	ChangePassword(ctx context.Context, id, current, next string) error
	SetPassword(ctx context.Context, id, next string) error
	SetRole(ctx context.Context, id string, role user.Role) (*user.User, error)
	SetDisabled(ctx context.Context, id string, disabled bool) (*user.User, error)
	SignOutEverywhere(ctx context.Context, id string) (*user.User, error)
	List(ctx context.Context, filter string, page, perPage int) ([]*user.User, int64, error)
}

// Accounts runs the e-mail flows (internal/account.Service): addresses
// and their verification, forgotten passwords, "this wasn't me", and
// security notices. Its methods queue mail; none sends it.
type Accounts interface {
	// Register creates an account, with an optional address (email "")
	// waiting for verification.
	Register(ctx context.Context, username, password, email string) (*user.User, error)
	ChangeEmail(ctx context.Context, id, addr, ip string) (user.Address, error)
	ResendVerification(ctx context.Context, u *user.User) error
	CheckVerification(ctx context.Context, token string) (addr string, err error)
	Verify(ctx context.Context, token string) (*user.User, error)
	RequestReset(ctx context.Context, login string) error
	CheckReset(ctx context.Context, token string) (*user.User, error)
	Reset(ctx context.Context, token, next string) (*user.User, error)
	CheckNotMe(ctx context.Context, token string) (userID, sid string, err error)
	NotMe(ctx context.Context, token string) (userID, sid, resetToken string, err error)
	Notify(ctx context.Context, kind, userID string, data map[string]string) error
}

// SessionIndex is the per-user session index (session.Index).
type SessionIndex interface {
	Add(ctx context.Context, info session.Info, token string) error
	// Touch claims the once-per-interval touch of the session whose
	// cookie is token and whose loaded record is rec (session.Index.Touch).
	Touch(ctx context.Context, token string, rec *session.Record, seen, exp time.Time) (session.TouchResult, error)
	SetToken(ctx context.Context, userID, sid, token string) error
	List(ctx context.Context, userID string) ([]session.Info, error)
	Revoke(ctx context.Context, userID, sid string) (bool, error)
	RevokeAll(ctx context.Context, userID, keep string, why session.EndReason) ([]string, error)
	Remove(ctx context.Context, userID, sid string) error
	// Counts returns each user's number of live sessions.
	Counts(ctx context.Context, userIDs []string) ([]int, error)
	// Trim ends the user's least recently used sessions past max, never
	// keep.
	Trim(ctx context.Context, userID, keep string, max int) ([]string, error)
}

// Cookie sets the session cookie's name and whether it is Secure. Its other
// attributes are fixed: HttpOnly, SameSite=Lax, Path=/, no Domain, and no
// Max-Age unless the person asks to be remembered.
type Cookie struct {
	Name   string // e.g. "__Host-gatehouse_session" in production
	Secure bool
}

// Deps are everything the server needs. All fields are required unless
// marked optional.
type Deps struct {
	Logger *slog.Logger
	// SessionStore keeps session data (session.Store on Redis). It must
	// honour session.CommitHints.
	SessionStore scs.CtxStore
	Cookie       Cookie
	// SessionIndex lists and revokes each user's sessions.
	SessionIndex SessionIndex
	// Policy sets session lifetimes; zero fields take the defaults.
	Policy session.Policy
	Users  Users
	Checks []Check
	// Templates is the template tree (templates.FS in production).
	Templates fs.FS
	// ReloadTemplates re-parses templates on every request, for editing
	// them while `make run` runs. Optional.
	ReloadTemplates bool
	// Static is the static file tree (static.FS).
	Static fs.FS
	// Production turns on HSTS.
	Production bool
	// CORSAllowedOrigins may call the JSON API with credentials. Optional.
	CORSAllowedOrigins []string
	// Accounts runs the e-mail flows. Optional: nil turns e-mail off
	// (MAIL_ENABLED=false): no address fields, no "forgot password", no
	// notices.
	Accounts Accounts
	// PasswordResetTTL is how long a reset link works, for the pages that
	// say so. Optional.
	PasswordResetTTL time.Duration
	// DevMailbox lists the mail of the development SMTP server, on
	// /dev/mail. Optional; only dev builds serve it.
	DevMailbox DevMailbox
	// Now is the clock. Optional: time.Now.
	Now func() time.Time
	// Metrics records Prometheus metrics. Optional.
	Metrics *metrics.Metrics

	// LoginLimiter throttles failed logins.
	LoginLimiter LoginLimiter
	// AdmitPasswordCheck reserves a place in the password-hashing queue
	// before a password check does any work, or fails with
	// user.ErrBusy when the queue cannot take it (user.Service.Admit).
	// Optional: every check is admitted.
	AdmitPasswordCheck func(ctx context.Context) (release func(), err error)
	// Secret returns the key that signs device cookies (SECRET_KEY, or a
	// key shared through Redis).
	Secret func(context.Context) ([]byte, error)
	// TokenGuesses counts, per IP, requests whose session cookie names no
	// live session (token guesses); past TokenGuessLimit in its window,
	// that IP's cookie-bearing requests get 429.
	TokenGuesses    WindowCounter
	TokenGuessLimit int
	// Signups counts sign-up attempts per IP; past SignupLimit in its
	// window they get 429.
	Signups     WindowCounter
	SignupLimit int
	// TrustedProxies may set the client IP in ClientIPHeader
	// (X-Forwarded-For or X-Real-IP). Optional.
	TrustedProxies []netip.Prefix
	ClientIPHeader string
	// IPv6Prefix is how many leading bits of an IPv6 address the per-IP
	// limits count as one client. Optional: 64.
	IPv6Prefix int
	// MaxSessionsPerUser caps a user's live sessions; signing in past it
	// ends the least recently used. Optional: 50.
	MaxSessionsPerUser int

	// SecondFactors is the authenticator-app factor (mfa.Service).
	SecondFactors SecondFactors
	// Passkeys runs the WebAuthn ceremonies and keeps the credentials
	// (internal/passkey.Service); its Count tells sign-in whether a
	// password needs a second factor. Optional: nil turns passkeys off.
	Passkeys Passkeys
	// PasskeyBegins counts the sign-in ceremonies begun per IP, each a
	// challenge kept in Redis for 5 minutes; past maxPasskeyBegins in a
	// window they are refused. Optional: nil counts nothing.
	PasskeyBegins WindowCounter
	// Require2FARoles are the roles that must sign in with two factors
	// (REQUIRE_2FA_ROLES). Optional.
	Require2FARoles []string
}

// ErrMissingDependency is NewServer's answer to Deps without a required
// field.
var ErrMissingDependency = errors.New("web.NewServer: missing dependency")

// NewServer returns the application's root handler.
func NewServer(d Deps) (http.Handler, error) {
	if d.Logger == nil || d.Secret == nil || d.SessionStore == nil || d.Cookie.Name == "" || d.SessionIndex == nil || d.Users == nil ||
		d.Templates == nil || d.Static == nil || d.LoginLimiter == nil || d.TokenGuesses == nil || d.TokenGuessLimit <= 0 || d.Signups == nil || d.SignupLimit <= 0 || d.SecondFactors == nil {
		return nil, ErrMissingDependency
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	d.Policy = d.Policy.WithDefaults()
	if d.IPv6Prefix <= 0 {
		d.IPv6Prefix = 64
	}
	if d.MaxSessionsPerUser <= 0 {
		d.MaxSessionsPerUser = 50
	}
	rd, err := newRenderer(d.Templates, d.ReloadTemplates, d.Logger, d.Now, d.Policy)
	if err != nil {
		return nil, err
	}
	rd.mail = d.Accounts != nil
	rd.passkeys = d.Passkeys != nil
	rd.limits.ResetFor = humanDuration(d.PasswordResetTTL)
	sess := newSessions(newSessionManager(d.SessionStore, d.Cookie, d.Policy), d.SessionIndex, d.Policy, d.MaxSessionsPerUser, d.Now, d.Logger, d.Metrics)
	sess.factors = &factors{totp: d.SecondFactors, passkeys: d.Passkeys, required: d.Require2FARoles}
	audit := &auditLog{logger: d.Logger, metrics: d.Metrics}
	guard := newTokenGuessGuard(d.TokenGuesses, d.TokenGuessLimit, d.IPv6Prefix, d.Logger, d.Metrics)
	limits := passwordLimits{limiter: d.LoginLimiter, devices: newDeviceCookies(d.Cookie, d.Secret, d.Now), ipv6Prefix: d.IPv6Prefix, hashQueue: d.AdmitPasswordCheck}
	signups := signupLimit{counter: d.Signups, max: int64(d.SignupLimit), ipv6Prefix: d.IPv6Prefix}
	return routes(d, rd, sess, audit, guard, signups, limits)
}

// newSessionManager returns scs's manager for store with Gatehouse's cookie.
func newSessionManager(store scs.CtxStore, c Cookie, p session.Policy) *scs.SessionManager {
	sm := scs.New()
	// scs.New also starts a cleanup goroutine for its default memory
	// store, which this replaces. It idles once a minute over an empty
	// map. Stopping it is not safe: memstore's StopCleanup races with the
	// goroutine's start (the race detector shows it), so it is left.
	sm.Store = store
	sm.Codec = session.Codec{}
	// scs's deadline is the absolute lifetime without "remember me";
	// signIn sets each session's own.
	sm.Lifetime = p.Lifetime
	// Zero: scs would otherwise re-save the session and send a cookie on
	// every request. The idle timeout is Gatehouse's (session.Policy), so
	// that a page view costs one Redis read.
	sm.IdleTimeout = 0
	sm.HashTokenInStore = true
	sm.Cookie.Name = c.Name
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Path = "/"
	sm.Cookie.Secure = c.Secure
	// A browser-session cookie: it goes when the browser closes, while
	// the server-side lifetime and idle timeout still apply. signIn makes
	// it persistent with "remember me".
	sm.Cookie.Persist = false
	return sm
}
