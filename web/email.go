package web

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
)

// E-mail: the address page, verification links, "forgot password", reset
// links and "this wasn't me" (the OWASP Forgot Password Cheat Sheet). The
// flows themselves are internal/account's; handlers here read input,
// throttle, and turn outcomes into pages and JSON. A page that a mailed
// link opens shows a form first, so that a mail scanner following links
// uses nothing up: only the form's POST uses the token.

const (
	msgResetSent = "If an account matches, we sent a link"
	// maxLogin bounds the forgot-password form's input: an address is at
	// most 254 octets, a username less.
	maxLogin = user.EmailMaxLen
	// maxToken bounds a token read from a URL or a form; ours are 68.
	maxToken = 128
)

// mailer queues the mail of security events for the handlers. It is
// nil-safe: with e-mail off (no Accounts) it does nothing.
type mailer struct {
	accounts Accounts
	logger   *slog.Logger
}

// on reports whether e-mail is on.
func (m *mailer) on() bool { return m != nil && m.accounts != nil }

// notify queues a notice of kind for userID. A failure is logged, never
// fatal: the event itself happened.
func (m *mailer) notify(r *http.Request, kind, userID string, data map[string]string) {
	if !m.on() {
		return
	}
	d := map[string]string{"ip": clientIP(r)}
	for k, v := range data {
		d[k] = v
	}
	if err := m.accounts.Notify(r.Context(), kind, userID, d); err != nil {
		m.logger.Warn("could not queue a security notice", "kind", kind, "user_id", userID, "err", err, "request_id", requestID(r))
	}
}

// emailView is the address page's state.
type emailView struct {
	Verified string // the verified address, "" for none
	Pending  string // the address waiting for verification, "" for none
}

// linkView is a page reached from a mailed link.
type linkView struct {
	Token   string // the token, posted back by the page's form
	Address string // the address a verification link confirms
	// Notice says what already happened (after "this wasn't me").
	Notice string
	// Invalid: the link cannot be used; the page says what to do.
	Invalid bool
	// Done: the address is verified.
	Done bool
	// Problem says why a valid link's action was refused.
	Problem string
}

// tokenFrom reads a token from the query (GET) or the form (POST),
// bounded; "" when missing or too long.
func tokenFrom(r *http.Request) string {
	t := r.URL.Query().Get("token")
	if r.Method == http.MethodPost {
		t = r.PostForm.Get("token")
	}
	if len(t) > maxToken {
		return ""
	}
	return t
}

// showLinkInvalid answers a link that cannot be used: a page that says
// what to do instead, 400.
func showLinkInvalid(w http.ResponseWriter, r *http.Request, rd *renderer) {
	rd.render(w, r, http.StatusBadRequest, "link", view{User: currentUser(r), Link: &linkView{Invalid: true}})
}

// --- Forgot password ---------------------------------------------------

func handleForgotGet(rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rd.render(w, r, http.StatusOK, "forgot", view{User: currentUser(r)})
	})
}

// handleForgotPost answers every well-formed request with the same page,
// status and (since it only queues a job) time, whether or not an account
// matches: the mail worker looks the account up later.
func handleForgotPost(rd *renderer, accounts Accounts, limits passwordLimits, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		login := strings.TrimSpace(r.PostForm.Get("login"))
		form := newForm("login")
		form.Login = truncate(login, maxLogin)
		switch {
		case login == "":
			form.invalid("login", "Enter your username or email address")
		case len(login) > maxLogin || !utf8.ValidString(login):
			form.invalid("login", "Enter a username or email address of at most 254 characters")
		}
		v := view{User: currentUser(r), Form: form}
		if !form.ok() {
			rd.render(w, r, http.StatusUnprocessableEntity, "forgot", v)
			return nil
		}
		if err := requestReset(r, accounts, limits, audit, login); err != nil {
			return rd.showForm(w, r, "forgot", v, err, nil)
		}
		rd.render(w, r, http.StatusOK, "forgot_sent", view{User: currentUser(r)})
		return nil
	})
}

func handleAPIForgot(rd *renderer, accounts Accounts, limits passwordLimits, audit *auditLog) http.Handler {
	type body struct {
		Login string `json:"login"`
	}
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		var b body
		if err := decodeJSON(r, &b); err != nil {
			return err
		}
		login := strings.TrimSpace(b.Login)
		if login == "" || len(login) > maxLogin {
			return &badRequest{"Field login must be a username or email address of 1 to 254 characters"}
		}
		if err := requestReset(r, accounts, limits, audit, login); err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"message": msgResetSent})
		return nil
	})
}

// requestReset throttles a reset request per account (what was typed,
// normalised) and per IP with the login limiter, then queues it. The
// queue is the only work it does, the same for every login.
func requestReset(r *http.Request, accounts Accounts, limits passwordLimits, audit *auditLog, login string) error {
	key := "~invalid"
	if strings.Contains(login, "@") {
		if a, err := user.NormalizeEmail(login); err == nil {
			key = "@" + a.Norm
		}
	} else if norm, err := user.NormalizeUsername(login); err == nil {
		key = norm
	}
	if err := limits.admit(r, audit, "~reset:"+key, auditResetThrottled, "reset a password"); err != nil {
		return err
	}
	if err := accounts.RequestReset(r.Context(), login); err != nil {
		return err
	}
	audit.event(r, auditResetRequested, "", "")
	return nil
}

// --- Reset link -------------------------------------------------------

func handleResetGet(rd *renderer, accounts Accounts) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		tok := tokenFrom(r)
		if _, err := accounts.CheckReset(r.Context(), tok); err != nil {
			if errors.Is(err, account.ErrLinkInvalid) {
				showLinkInvalid(w, r, rd)
				return nil
			}
			return err
		}
		rd.render(w, r, http.StatusOK, "reset", view{User: currentUser(r), Link: &linkView{Token: tok}})
		return nil
	})
}

// handleResetPost sets the new password, signs out every session of the
// account, and signs this browser in afresh (a new token).
func handleResetPost(rd *renderer, sess *sessions, accounts Accounts, index SessionIndex, devices deviceCookies, audit *auditLog, mail *mailer) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		tok := tokenFrom(r)
		u, err := accounts.CheckReset(r.Context(), tok)
		if errors.Is(err, account.ErrLinkInvalid) {
			showLinkInvalid(w, r, rd)
			return nil
		}
		if err != nil {
			return err
		}
		next, confirm := r.PostForm.Get("new_password"), r.PostForm.Get("new_password_confirm")
		form := newForm("new_password")
		form.check("new_password", user.CheckNewPassword(next, u.Username))
		if !user.SamePassword(next, confirm) {
			form.invalid("new_password_confirm", msgConfirmPassword)
		}
		v := view{User: currentUser(r), Form: form, Link: &linkView{Token: tok}}
		if !form.ok() {
			rd.render(w, r, http.StatusUnprocessableEntity, "reset", v)
			return nil
		}
		err = resetPassword(w, r, sess, accounts, index, devices, audit, mail, tok, next)
		if _, ok := errors.AsType[*errSecondFactor](err); ok {
			sess.flash(r, "Your password has been changed, and any other sessions have been signed out. Finish signing in with your second factor")
			http.Redirect(w, r, "/login/2fa", http.StatusSeeOther)
			return nil
		}
		if err != nil {
			if errors.Is(err, account.ErrLinkInvalid) {
				showLinkInvalid(w, r, rd)
				return nil
			}
			return rd.showForm(w, r, "reset", v, err, map[error]string{errValidation: "new_password"})
		}
		sess.flash(r, "Your password has been changed and you are signed in. Any other sessions have been signed out.")
		http.Redirect(w, r, sess.afterSignInVia(r, "/dashboard"), http.StatusSeeOther)
		return nil
	})
}

func handleAPIReset(rd *renderer, sess *sessions, accounts Accounts, index SessionIndex, devices deviceCookies, audit *auditLog, mail *mailer) http.Handler {
	type body struct {
		Token       string `json:"token"`
		NewPassword string `json:"new_password"`
	}
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		var b body
		if err := decodeJSON(r, &b); err != nil {
			return err
		}
		if b.Token == "" || b.NewPassword == "" || len(b.Token) > maxToken {
			return &badRequest{"token and new_password are required"}
		}
		err := resetPassword(w, r, sess, accounts, index, devices, audit, mail, b.Token, b.NewPassword)
		if sf, ok := errors.AsType[*errSecondFactor](err); ok {
			writeJSON(w, http.StatusOK, map[string]any{"message": "Password changed; every other session was signed out. POST /auth/login/2fa to finish signing in",
				"second_factor": "required", "methods": sf.methods})
			return nil
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]string{"message": "Password changed; you are signed in, and every other session was signed out"})
		return nil
	})
}

// resetPassword uses a reset token to set the password, then ends every
// session of the account (the service replaced the security stamp, which
// ends them at their next touch; revoking them in Redis ends them now),
// signs the request in as the account with a new token, and queues the
// "password changed" notice.
func resetPassword(w http.ResponseWriter, r *http.Request, sess *sessions, accounts Accounts, index SessionIndex,
	devices deviceCookies, audit *auditLog, mail *mailer, tok, next string) error {
	u, err := accounts.Reset(r.Context(), tok, next)
	if err != nil {
		return err
	}
	audit.event(r, auditPasswordReset, u.ID, "")
	revokeAll(r, index, audit, u.ID, "", session.EndedForSecurity, slog.String("reason", "password reset"))
	mail.notify(r, account.KindPasswordChanged, u.ID, nil)
	// A reset proves the mailbox, not the second factor: a user who has
	// one still passes it (signInOrPending's *errSecondFactor).
	return signInOrPending(w, r, sess, devices, audit, nil, u, false)
}

// --- The address page -------------------------------------------------

func handleEmailGet(rd *renderer, sess *sessions, users Users) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		u, err := users.ByID(r.Context(), currentUser(r).UserID)
		if err != nil {
			return err
		}
		rd.render(w, r, http.StatusOK, "email", view{User: currentUser(r), Flash: sess.popFlash(r),
			NeedCurrent: !sess.recentlyAuthenticated(r), Email: &emailView{Verified: u.Email, Pending: u.EmailPending}})
		return nil
	})
}

// handleEmailPost asks for a new address: it needs a password entered
// within the reauthentication window, asked on the form when it is older.
// The new address gets a link; the old one, if verified, a notice, and
// stays in use until the link is used.
func handleEmailPost(rd *renderer, sess *sessions, users Users, accounts Accounts, limits passwordLimits, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		me := currentUser(r)
		u, err := users.ByID(r.Context(), me.UserID)
		if err != nil {
			return err
		}
		ev := &emailView{Verified: u.Email, Pending: u.EmailPending}
		// Each change or resend mails an address the person typed, which
		// may be anyone's: it is throttled per account and per IP, as
		// reset requests are, so that nobody is mail-bombed through here.
		mailsSomeone := func(v view) (bool, error) {
			if err := limits.admit(r, audit, "~verify:"+me.UserID, auditVerifyThrottled, "send a confirmation link"); err != nil {
				return false, rd.showForm(w, r, "email", v, err, nil)
			}
			return true, nil
		}
		if r.PostForm.Get("resend") != "" && u.EmailPending != "" {
			if ok, err := mailsSomeone(view{User: me, Form: newForm("email"), NeedCurrent: !sess.recentlyAuthenticated(r), Email: ev}); !ok {
				return err
			}
			if err := accounts.ResendVerification(r.Context(), u); err != nil {
				return err
			}
			sess.flash(r, "We sent a new link to "+u.EmailPending+".")
			http.Redirect(w, r, "/account/email", http.StatusSeeOther)
			return nil
		}
		needCurrent := !sess.recentlyAuthenticated(r)
		addr, current := r.PostForm.Get("email"), r.PostForm.Get("password")
		form := newForm("email")
		form.Email = truncate(addr, user.EmailMaxLen)
		if strings.TrimSpace(addr) == "" {
			form.invalid("email", "Enter your new email address")
		} else {
			_, err := user.NormalizeEmail(addr)
			form.check("email", err)
		}
		if needCurrent && current == "" {
			form.invalid("password", "Enter your password")
		}
		v := view{User: me, Form: form, NeedCurrent: needCurrent, Email: ev}
		if !form.ok() {
			rd.render(w, r, http.StatusUnprocessableEntity, "email", v)
			return nil
		}
		if needCurrent {
			err := limits.check(r, audit, withASession, accountOf(me), me.UserID, func() error {
				return users.CheckPassword(r.Context(), me.UserID, current)
			})
			if err != nil {
				return rd.showForm(w, r, "email", v, err, map[error]string{user.ErrWrongPassword: "password"})
			}
			if err := sess.reauthenticated(r, session.MethodPassword); err != nil {
				return err
			}
			audit.event(r, auditReauth, me.UserID, me.SID)
		}
		if ok, err := mailsSomeone(v); !ok {
			return err
		}
		a, err := accounts.ChangeEmail(r.Context(), me.UserID, addr, clientIP(r))
		if err != nil {
			return rd.showForm(w, r, "email", v, err, map[error]string{errValidation: "email"})
		}
		audit.event(r, auditEmailRequested, me.UserID, me.SID)
		sess.flash(r, "We sent a link to "+a.Address+". Open it to confirm your new address.")
		http.Redirect(w, r, "/account/email", http.StatusSeeOther)
		return nil
	})
}

// --- Verification link ------------------------------------------------

func handleVerifyGet(rd *renderer, accounts Accounts) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		tok := tokenFrom(r)
		addr, err := accounts.CheckVerification(r.Context(), tok)
		if errors.Is(err, account.ErrLinkInvalid) {
			showLinkInvalid(w, r, rd)
			return nil
		}
		if err != nil {
			return err
		}
		rd.render(w, r, http.StatusOK, "email_verify", view{User: currentUser(r), Link: &linkView{Token: tok, Address: addr}})
		return nil
	})
}

func handleVerifyPost(rd *renderer, accounts Accounts, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		tok := tokenFrom(r)
		addr, err := accounts.CheckVerification(r.Context(), tok)
		if errors.Is(err, account.ErrLinkInvalid) {
			showLinkInvalid(w, r, rd)
			return nil
		}
		if err != nil {
			return err
		}
		u, err := accounts.Verify(r.Context(), tok)
		switch {
		case errors.Is(err, account.ErrLinkInvalid):
			showLinkInvalid(w, r, rd)
			return nil
		case errors.Is(err, user.ErrEmailTaken), errors.Is(err, user.ErrEmailLookalike):
			// Only the holder of the mailbox sees this: the link proved it.
			rd.render(w, r, http.StatusConflict, "email_verify", view{User: currentUser(r),
				Link: &linkView{Address: addr, Problem: sentence(problemFor(err).message)}})
			return nil
		case err != nil:
			return err
		}
		audit.event(r, auditEmailVerified, u.ID, "")
		rd.render(w, r, http.StatusOK, "email_verify", view{User: currentUser(r), Link: &linkView{Address: addr, Done: true}})
		return nil
	})
}

// --- "This wasn't me" -------------------------------------------------

func handleNotMeGet(rd *renderer, sess *sessions, accounts Accounts) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		tok := tokenFrom(r)
		if _, _, err := accounts.CheckNotMe(r.Context(), tok); err != nil {
			if errors.Is(err, account.ErrLinkInvalid) {
				showLinkInvalid(w, r, rd)
				return nil
			}
			return err
		}
		rd.render(w, r, http.StatusOK, "confirm", view{User: currentUser(r), Confirm: &confirmView{
			Title:   "Sign out that device?",
			Explain: "The session that signed in from the new device ends now, and every other session of your account within " + sess.touchWithin() + ". Then you choose a new password.",
			Button:  "Sign it out and secure my account", Danger: true,
			Action: "/account/not-me", Cancel: "/", Token: tok,
		}})
		return nil
	})
}

// handleNotMePost ends the session the notice was about, replaces the
// account's security stamp (so every session of it ends at its next
// touch), and shows the new-password form with a fresh reset token.
func handleNotMePost(rd *renderer, sess *sessions, accounts Accounts, index SessionIndex, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		userID, sid, resetTok, err := accounts.NotMe(r.Context(), tokenFrom(r))
		if errors.Is(err, account.ErrLinkInvalid) {
			showLinkInvalid(w, r, rd)
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := index.Revoke(r.Context(), userID, sid); err != nil {
			// The new stamp ends it within the touch interval anyway.
			audit.warn(r, "could not revoke the session named by \"this wasn't me\" now", err)
		} else {
			audit.event(r, auditSessionRevoked, userID, sid, slog.String("reason", "not me"))
		}
		audit.event(r, auditNotMe, userID, sid)
		notice := "We signed that device out, and your other sessions will be signed out within " + sess.touchWithin() + "."
		if resetTok == "" {
			rd.render(w, r, http.StatusOK, "reset", view{User: currentUser(r), Link: &linkView{Notice: notice}})
			return nil
		}
		rd.render(w, r, http.StatusOK, "reset", view{User: currentUser(r), Link: &linkView{Token: resetTok, Notice: notice + " Now choose a new password."}})
		return nil
	})
}

// newDevice queues the notice of a sign-in from a device the account has
// not used before (no device cookie for it), with the device, IP and time.
func newDevice(r *http.Request, mail *mailer, u *user.User, rec *session.Record) {
	if u.Email == "" {
		return
	}
	mail.notify(r, account.KindNewDevice, u.ID, map[string]string{"sid": rec.SID, "device": session.Device(r.UserAgent())})
}
