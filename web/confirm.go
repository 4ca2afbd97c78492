package web

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Sensitive actions (signing other sessions out, every admin action) need
// a password entered within the reauthentication window. When it is older,
// the action is never dropped: its confirmation page (the GOV.UK
// confirmation pattern) says what will happen, asks for the password on
// the same form, and posting it runs the action.

// confirmView is one action's confirmation page.
type confirmView struct {
	Title   string // "Disable victim?"
	Explain string // what will happen, in a sentence or two
	Verb    string // "disable victim", for "Confirm your password to …"
	Button  string // "Disable victim"
	Action  string // where the form posts
	Cancel  string // where Cancel leads
	// Token, when set, is posted back with the form: the token of the
	// mailed link that opened the page ("this wasn't me").
	Token string
	// Danger styles the button as destructive.
	Danger bool
	// NeedPassword asks for the password on the form: the last one is
	// older than the reauthentication window.
	NeedPassword bool
	// OfferCode offers a code from the authenticator app instead of the
	// password (the user has one); OfferPasskey a passkey (with script).
	OfferCode, OfferPasskey bool
	// NeedCode asks for a code whatever the window: the action changes
	// the second factor itself.
	NeedCode bool
}

// showConfirm renders c's confirmation page with status.
func showConfirm(w http.ResponseWriter, r *http.Request, rd *renderer, sess *sessions, c confirmView, form *formView, status int) {
	c.NeedPassword = !sess.recentlyAuthenticated(r)
	if c.NeedPassword && !c.NeedCode {
		c.OfferCode, c.OfferPasskey = sess.stepUpFactors(r)
	}
	if form == nil {
		form = newForm("password")
	}
	rd.render(w, r, status, "confirm", view{User: currentUser(r), Confirm: &c, Form: form})
}

// recentOrPassword lets a sensitive POST go ahead when the user
// authenticated within the window, or does now on the form: with the
// password, or with a code from their authenticator app (field
// "step_code"); a passkey does it before the form is posted
// (/webauthn/reauth). Each is checked through the limits, and then counts
// as a fresh authentication: a new token, as for any privilege step.
// Otherwise it answers with the action's confirmation page, and ok is
// false. The form must be parsed.
func recentOrPassword(w http.ResponseWriter, r *http.Request, rd *renderer, sess *sessions, users Users,
	limits passwordLimits, audit *auditLog, c confirmView) (ok bool, err error) {
	if sess.recentlyAuthenticated(r) {
		return true, nil
	}
	form := newForm("password")
	if code := r.PostForm.Get("step_code"); code != "" && r.PostForm.Get("password") == "" && sess.factors != nil && sess.factors.totp != nil {
		u := currentUser(r)
		if len(code) > maxCode {
			code = code[:maxCode+1] // wrong by length: counted, not checked
		}
		m, err := checkCode(r, sess.factors.totp, limits, audit, accountOf(u), u.UserID, code)
		if err != nil {
			form = newForm("step_code")
			c.NeedPassword = true
			c.OfferCode, c.OfferPasskey = sess.stepUpFactors(r)
			return false, rd.showForm(w, r, "confirm", view{User: u, Confirm: &c, Form: form}, err,
				map[error]string{mfa.ErrWrongCode: "step_code"})
		}
		if err := sess.reauthenticated(r, m); err != nil {
			return false, err
		}
		audit.event(r, auditReauth, u.UserID, u.SID, slog.String("method", m.Names()[0]))
		return true, nil
	}
	if !r.PostForm.Has("password") {
		showConfirm(w, r, rd, sess, c, form, http.StatusOK)
		return false, nil
	}
	pw := r.PostForm.Get("password")
	if pw == "" {
		form.invalid("password", "Enter your password")
		showConfirm(w, r, rd, sess, c, form, http.StatusUnprocessableEntity)
		return false, nil
	}
	u := currentUser(r)
	err = limits.check(r, audit, withASession, accountOf(u), u.UserID, func() error {
		err := users.CheckPassword(r.Context(), u.UserID, pw)
		if errors.Is(err, user.ErrNotFound) {
			// The account was deleted meanwhile: answer as for a wrong
			// password, and let the next touch end the session.
			err = user.ErrWrongPassword
		}
		return err
	})
	if err != nil {
		c.NeedPassword = true
		return false, rd.showForm(w, r, "confirm", view{User: u, Confirm: &c, Form: form}, err,
			map[error]string{user.ErrWrongPassword: "password"})
	}
	// A privilege step: new token, same absolute deadline.
	if err := sess.reauthenticated(r, session.MethodPassword); err != nil {
		return false, err
	}
	audit.event(r, auditReauth, u.UserID, u.SID)
	return true, nil
}
