package web

import (
	"errors"
	"net/http"

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
}

// showConfirm renders c's confirmation page with status.
func showConfirm(w http.ResponseWriter, r *http.Request, rd *renderer, sess *sessions, c confirmView, form *formView, status int) {
	c.NeedPassword = !sess.recentlyAuthenticated(r)
	if form == nil {
		form = newForm("password")
	}
	rd.render(w, r, status, "confirm", view{User: currentUser(r), Confirm: &c, Form: form})
}

// recentOrPassword lets a sensitive POST go ahead when the password was
// entered within the window, or comes with the form now (checked through
// the limits, and then counting as a fresh entry: a new token, as for any
// privilege step). Otherwise it answers with the action's confirmation
// page, asking for the password, and ok is false. The form must be parsed.
func recentOrPassword(w http.ResponseWriter, r *http.Request, rd *renderer, sess *sessions, users Users,
	limits passwordLimits, audit *auditLog, c confirmView) (ok bool, err error) {
	if sess.recentlyAuthenticated(r) {
		return true, nil
	}
	form := newForm("password")
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
	if err := sess.renew(r); err != nil {
		return false, err
	}
	sess.confirmPassword(r)
	audit.event(r, auditReauth, u.UserID, u.SID)
	return true, nil
}
