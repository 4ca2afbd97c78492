package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Signing in and out: the login page and POST /auth/login share logIn;
// the logout page and POST /auth/logout share logOut.

const msgSignedOut = "You have been signed out."

func handleLoginGet(rd *renderer, sess *sessions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if currentUser(r) != nil {
			http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
			return
		}
		v := view{Flash: sess.popFlash(r)}
		// After logout the session is gone, so the notice travels in the URL.
		if r.URL.Query().Get("signed_out") == "1" {
			v.Flash = msgSignedOut
		}
		rd.render(w, r, http.StatusOK, "login", v)
	})
}

func handleLoginPost(rd *renderer, sess *sessions, users Users, limiter LoginLimiter, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
		form := newForm()
		form.Username, form.Remember = truncate(username, 64), r.PostForm.Get("remember") != ""
		if username == "" {
			form.invalid("username", "Enter your username.")
		}
		if password == "" {
			form.invalid("password", "Enter your password.")
		}
		if !form.ok() {
			rd.render(w, r, http.StatusUnprocessableEntity, "login", view{Form: form})
			return nil
		}
		if err := logIn(r, sess, users, limiter, audit, username, password, form.Remember); err != nil {
			return rd.showForm(w, r, "login", view{Form: form}, err, nil)
		}
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
		return nil
	})
}

func handleAPILogin(rd *renderer, sess *sessions, users Users, limiter LoginLimiter, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		var c credentials
		if err := decodeJSON(r, &c); err != nil {
			return err
		}
		if err := c.check(); err != nil {
			return err
		}
		if err := logIn(r, sess, users, limiter, audit, c.Username, c.Password, c.Remember); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]string{"message": "Welcome, " + currentUser(r).Username + "!"})
		return nil
	})
}

// logIn checks a password login through the throttle (authenticate) and,
// when it is right, signs the request's session in.
func logIn(r *http.Request, sess *sessions, users Users, limiter LoginLimiter, audit *auditLog, username, password string, remember bool) error {
	u, err := authenticate(r, users, limiter, audit, username, password)
	if err != nil {
		return err
	}
	if err := sess.signIn(r, u, remember); err != nil {
		return err
	}
	audit.event(r, auditLoginSuccess, u.ID, currentUser(r).SID)
	return nil
}

// authenticate runs one login attempt through the login limiter. It returns
// the user, or user.ErrInvalidCredentials, a *throttledError, or a storage
// error. When Redis cannot be asked it fails closed: no password is
// checked.
func authenticate(r *http.Request, users Users, limiter LoginLimiter, audit *auditLog, username, password string) (*user.User, error) {
	account, err := user.NormalizeUsername(username)
	if err != nil {
		// Such a name cannot exist; throttle it by IP under one bucket.
		account = "~invalid"
	}
	d, err := limiter.Begin(r.Context(), account, clientIP(r))
	if err != nil {
		return nil, err
	}
	if d.Blocked != redis.BlockedNone {
		audit.event(r, auditLoginThrottled, "", "", slog.String("reason", d.Blocked.String()), slog.Duration("retry_after", d.RetryAfter))
		return nil, &throttledError{retryAfter: d.RetryAfter, message: throttledMessage(d.RetryAfter)}
	}
	u, err := users.Authenticate(r.Context(), username, password)
	switch {
	case errors.Is(err, user.ErrInvalidCredentials):
		// The account may not exist: log the normalised name only when
		// it is valid, never the password.
		audit.event(r, auditLoginFailure, "", "", slog.String("account", account))
		return nil, err
	case err != nil:
		// Not a verdict on the password: do not count it.
		audit.loginUnanswered(errors.Is(err, user.ErrBusy))
		if aerr := limiter.Abandon(context.WithoutCancel(r.Context()), d.Attempt); aerr != nil {
			audit.warn(r, "could not withdraw a login attempt", aerr)
		}
		return nil, err
	}
	if err := limiter.Succeeded(r.Context(), d.Attempt); err != nil {
		// The login itself is valid; stale counters only delay this
		// account's next failures.
		audit.warn(r, "could not clear login failures", err)
	}
	return u, nil
}

// clearSiteData tells the browser to drop everything it keeps for this
// site at logout: cached pages, cookies and storage.
const clearSiteData = `"cache", "cookies", "storage"`

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
