package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Signing in and out: the login page and POST /auth/login share logIn;
// the logout page and POST /auth/logout share logOut.

const msgSignedOut = "You have been signed out."

// whyText says why a session ended (?why=), without revealing anything:
// only the session's own request is sent here with it.
var whyText = map[string]string{
	whyExpired:   "You were signed out because your session expired. Sign in again to go on.",
	whySecurity:  "You were signed out for your security, because your password or role changed. Sign in again to go on.",
	whyElsewhere: "You were signed out because your session was signed out from another device. Sign in again to go on.",
	whyTimedOut:  "Your sign-in timed out before the second step was done. Enter your password again to go on.",
}

func handleLoginGet(rd *renderer, sess *sessions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		next := localPath(q.Get("next"))
		if currentUser(r) != nil {
			http.Redirect(w, r, afterSignIn(next), http.StatusSeeOther)
			return
		}
		v := view{Flash: sess.popFlash(r), Next: next}
		// After logout the session is gone, so the notice travels in the URL.
		if q.Get("signed_out") == "1" {
			v.Flash = msgSignedOut
		}
		if why := whyText[q.Get("why")]; why != "" {
			v.Flash = why
		}
		rd.render(w, r, http.StatusOK, "login", v)
	})
}

// afterSignIn is where a sign-in leads: the page the person was going to
// (a local path, localPath), or the dashboard.
func afterSignIn(next string) string {
	if next == "" || next == "/login" || next == "/signup" {
		return "/dashboard"
	}
	return next
}

func handleLoginPost(rd *renderer, sess *sessions, users Users, limits passwordLimits, audit *auditLog, mail *mailer) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
		form := newForm("username")
		form.Username, form.Remember = truncate(username, 64), r.PostForm.Get("remember") != ""
		if username == "" {
			form.invalid("username", "Enter your username")
		}
		if password == "" {
			form.invalid("password", "Enter your password")
		}
		if !form.ok() {
			rd.render(w, r, http.StatusUnprocessableEntity, "login", view{Form: form, Next: localPath(r.PostForm.Get("next"))})
			return nil
		}
		next := localPath(r.PostForm.Get("next"))
		err := logIn(w, r, sess, users, limits, audit, mail, username, password, form.Remember)
		if _, ok := errors.AsType[*errSecondFactor](err); ok {
			to := "/login/2fa"
			if next != "" {
				to += "?next=" + url.QueryEscape(next)
			}
			http.Redirect(w, r, to, http.StatusSeeOther)
			return nil
		}
		if err != nil {
			return rd.showForm(w, r, "login", view{Form: form, Next: next}, err, nil)
		}
		http.Redirect(w, r, sess.afterSignInVia(r, afterSignIn(next)), http.StatusSeeOther)
		return nil
	})
}

func handleAPILogin(rd *renderer, sess *sessions, users Users, limits passwordLimits, audit *auditLog, mail *mailer) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		var c credentials
		if err := decodeJSON(r, &c); err != nil {
			return err
		}
		if err := c.check(); err != nil {
			return err
		}
		err := logIn(w, r, sess, users, limits, audit, mail, c.Username, c.Password, c.Remember)
		if sf, ok := errors.AsType[*errSecondFactor](err); ok {
			// The password was right; POST /auth/login/2fa finishes.
			writeJSON(w, http.StatusOK, map[string]any{"second_factor": "required", "methods": sf.methods})
			return nil
		}
		if err != nil {
			return err
		}
		rec := currentUser(r)
		writeJSON(w, http.StatusOK, map[string]any{"message": "Welcome, " + rec.Username + "!", "amr": rec.AMR.Names(), "aal": rec.AMR.AAL()})
		return nil
	})
}

// logIn checks a password login through the limits (authenticate) and,
// when it is right, signs the request's session in (signInOrPending).
func logIn(w http.ResponseWriter, r *http.Request, sess *sessions, users Users, limits passwordLimits, audit *auditLog, mail *mailer, username, password string, remember bool) error {
	u, err := authenticate(r, users, limits, audit, username, password)
	if err != nil {
		return err
	}
	return signInOrPending(w, r, sess, limits.devices, audit, mail, u, remember)
}

// signInOrPending follows a right password: a user with a second factor
// gets a pending session and an *errSecondFactor, which lists the
// factors; any other is signed in (startSession). Second factors that
// cannot be looked up fail the sign-in: it never falls back to one
// factor.
func signInOrPending(w http.ResponseWriter, r *http.Request, sess *sessions, devices deviceCookies, audit *auditLog, mail *mailer, u *user.User, remember bool) error {
	methods, err := sess.factors.methodsOf(r.Context(), u.ID)
	if err != nil {
		return err
	}
	if len(methods) > 0 {
		if err := sess.beginPending(r, u, remember, session.MethodPassword); err != nil {
			return err
		}
		audit.event(r, auditSecondFactorPending, u.ID, "")
		return &errSecondFactor{methods: methods}
	}
	return startSession(w, r, sess, devices, audit, mail, u, remember, session.MethodPassword)
}

// startSession signs the request's session in as u, after a sign-in or a
// sign-up: the session, its audit lines (and those of the sessions the cap
// ended), and the browser's device cookie for the account. With mail (nil
// for none), a browser that had no device cookie for the account is a new
// device: the account gets a notice.
func startSession(w http.ResponseWriter, r *http.Request, sess *sessions, devices deviceCookies, audit *auditLog, mail *mailer, u *user.User, remember bool, amr session.Methods) error {
	_, known := devices.device(r, u.UsernameNorm)
	evicted, err := sess.signIn(r, u, remember, amr)
	if err != nil {
		return err
	}
	sid := currentUser(r).SID
	for _, id := range evicted {
		audit.event(r, auditSessionEvicted, u.ID, id, slog.String("by_session_id", sid), slog.Int("max_sessions", sess.maxPerUser))
	}
	devices.issue(w, r, u.UsernameNorm)
	audit.event(r, auditLoginSuccess, u.ID, sid, slog.String("amr", strings.Join(amr.Names(), " ")))
	if !known && mail.on() {
		newDevice(r, mail, u, currentUser(r))
	}
	return nil
}

// authenticate runs one login attempt through the limits (check). It
// returns the user, or user.ErrInvalidCredentials, a *throttledError, or a
// storage error.
func authenticate(r *http.Request, users Users, limits passwordLimits, audit *auditLog, username, password string) (*user.User, error) {
	account, err := user.NormalizeUsername(username)
	if err != nil {
		// Such a name cannot exist; throttle it by IP under one bucket.
		account = "~invalid"
	}
	var u *user.User
	err = limits.check(r, audit, signIn, account, "", func() (err error) {
		u, err = users.Authenticate(r.Context(), username, password)
		return err
	})
	return u, err
}

// passwordCheck says where a password is checked, for the audit log.
type passwordCheck int

const (
	signIn       passwordCheck = iota // the login form or POST /auth/login
	withASession                      // the confirm page or a password change, by a signed-in session
	withACode                         // a second factor's code (mfa.ErrWrongCode), at sign-in or step-up
)

// passwordLimits is the login limiter with device cookies: every password
// check goes through check.
type passwordLimits struct {
	limiter    LoginLimiter
	devices    deviceCookies
	ipv6Prefix int // clientKey's
	// hashQueue, when set, reserves the check's place in the hashing
	// queue (Deps.AdmitPasswordCheck).
	hashQueue func(ctx context.Context) (release func(), err error)
}

// check runs check, one verification of account's password, through the
// login limiter, with the same limits per (account, IP), per account and
// per IP wherever the password is checked: sign-in, the confirm page,
// password changes. So holding a session gives no faster way to guess the
// password. A request with a device cookie for account is limited per
// device instead, and is exempt from the account-wide backoff (device.go).
//
// A blocked attempt is refused before check runs, with a *throttledError.
// A wrong password (user.ErrInvalidCredentials or user.ErrWrongPassword)
// counts as a failure; any other error is no verdict on the password and
// is withdrawn. Failures and refusals write an audit line. When Redis
// cannot be asked it fails closed: check does not run.
func (l passwordLimits) check(r *http.Request, audit *auditLog, where passwordCheck, account, userID string, check func() error) error {
	// First a place in the hashing queue: a flood's attempts that could
	// not be hashed in time are refused before they cost a Redis script
	// and a MongoDB lookup.
	if l.hashQueue != nil && where != withACode {
		release, err := l.hashQueue(r.Context())
		if err != nil {
			if where == signIn {
				audit.loginUnanswered(errors.Is(err, user.ErrBusy))
			}
			return err
		}
		defer release()
	}
	var d redis.Decision
	var err error
	if device, ok := l.devices.device(r, account); ok {
		d, err = l.limiter.BeginDevice(r.Context(), device)
	} else {
		d, err = l.limiter.Begin(r.Context(), account, clientKey(r, l.ipv6Prefix))
	}
	if err != nil {
		return err
	}
	limiter := l.limiter
	throttledEvent, failureEvent := auditLoginThrottled, auditLoginFailure
	switch where {
	case withASession:
		throttledEvent, failureEvent = auditPasswordCheckThrottled, auditPasswordCheckFailure
	case withACode:
		throttledEvent, failureEvent = auditCodeThrottled, auditCodeFailure
	}
	if d.Blocked != redis.BlockedNone {
		audit.event(r, throttledEvent, userID, "", slog.String("account", account),
			slog.String("reason", d.Blocked.String()), slog.Duration("retry_after", d.RetryAfter))
		return &throttledError{retryAfter: d.RetryAfter, message: throttledMessage(d.RetryAfter)}
	}
	err = check()
	switch {
	case errors.Is(err, user.ErrInvalidCredentials), errors.Is(err, user.ErrWrongPassword), errors.Is(err, mfa.ErrWrongCode):
		// The account may not exist: the audit line has the normalised
		// name only when it is valid, and never the password.
		audit.event(r, failureEvent, userID, "", slog.String("account", account))
		return err
	case err != nil:
		if where == signIn {
			audit.loginUnanswered(errors.Is(err, user.ErrBusy))
		}
		if aerr := limiter.Abandon(context.WithoutCancel(r.Context()), d.Attempt); aerr != nil {
			audit.warn(r, "could not withdraw a password attempt", aerr)
		}
		return err
	}
	if err := limiter.Succeeded(r.Context(), d.Attempt); err != nil {
		// The check itself passed; stale counters only delay this
		// account's next failures.
		audit.warn(r, "could not clear password failures", err)
	}
	return nil
}

// admit counts one request of a kind that is throttled like a login
// attempt but is never a success, such as a request that mails someone (a
// reset link, a verification link): key is its account key (namespaced
// apart from sign-in's own), and the IP's count is the one sign-in uses.
// Past a limit it writes the audit event and returns a *throttledError
// (429 with Retry-After) whose message says "Too many requests to what";
// when Redis cannot be asked it fails closed.
func (l passwordLimits) admit(r *http.Request, audit *auditLog, key, event, what string) error {
	d, err := l.limiter.Begin(r.Context(), key, clientKey(r, l.ipv6Prefix))
	if err != nil {
		return err
	}
	if d.Blocked == redis.BlockedNone {
		return nil
	}
	audit.event(r, event, "", "", slog.String("reason", d.Blocked.String()), slog.Duration("retry_after", d.RetryAfter))
	return &throttledError{retryAfter: d.RetryAfter, message: "Too many requests to " + what + ": wait " + waitWords(d.RetryAfter) + ", then try again"}
}

// accountOf is the limiter's account key of the signed-in user: the same
// normalised name a sign-in uses, so that both share the limits.
func accountOf(u *session.Record) string {
	if norm, err := user.NormalizeUsername(u.Username); err == nil {
		return norm
	}
	return "~id:" + u.UserID
}

// clearSiteData tells the browser to drop what it keeps for this site at
// logout: cached pages and storage. Not "cookies", which would wipe the
// device cookie too (device.go): the session cookie is expired by itself.
const clearSiteData = `"cache", "storage"`

// logOut ends the request's session, audits it and asks the browser to
// clear the site's data. Anonymous visitors are simply signed out again.
func logOut(w http.ResponseWriter, r *http.Request, sess *sessions, audit *auditLog) error {
	if u := currentUser(r); u != nil {
		audit.event(r, auditLogout, u.UserID, u.SID)
	}
	if err := sess.signOut(r); err != nil {
		return err
	}
	w.Header().Set("Clear-Site-Data", clearSiteData)
	return nil
}

// handleLogoutPost ends the session: its data is deleted from Redis and the
// cookie is expired.
func handleLogoutPost(rd *renderer, sess *sessions, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := logOut(w, r, sess, audit); err != nil {
			return err
		}
		http.Redirect(w, r, "/login?signed_out=1", http.StatusSeeOther)
		return nil
	})
}

func handleAPILogout(rd *renderer, sess *sessions, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := logOut(w, r, sess, audit); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]string{"message": "Logged out successfully"})
		return nil
	})
}
