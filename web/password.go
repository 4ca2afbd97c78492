package web

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Changing the password: the page and POST /api/password share
// changePassword. The page asks for the current password only when the
// last one entered is older than the reauthentication window, so that it
// never asks twice in a row.

func handlePasswordGet(rd *renderer, sess *sessions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rd.render(w, r, http.StatusOK, "password", view{User: currentUser(r), Flash: sess.popFlash(r),
			NeedCurrent: !sess.recentlyAuthenticated(r)})
	})
}

func handlePasswordPost(rd *renderer, sess *sessions, users Users, limits passwordLimits, index SessionIndex, audit *auditLog, mail *mailer) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		current := r.PostForm.Get("current_password")
		next, confirm := r.PostForm.Get("new_password"), r.PostForm.Get("new_password_confirm")
		needCurrent := !sess.recentlyAuthenticated(r)
		form := newForm("new_password")
		if needCurrent {
			form = newForm("current_password")
			if current == "" {
				form.invalid("current_password", "Enter your current password")
			}
		}
		form.check("new_password", user.CheckNewPassword(next, currentUser(r).Username))
		if !user.SamePassword(next, confirm) {
			form.invalid("new_password_confirm", msgConfirmPassword)
		}
		v := view{User: currentUser(r), Form: form, NeedCurrent: needCurrent}
		if !form.ok() {
			rd.render(w, r, http.StatusUnprocessableEntity, "password", v)
			return nil
		}
		if !needCurrent {
			current = "" // entered within the window: not asked again
		}
		err := changePassword(r, sess, users, limits, index, audit, mail, current, next)
		switch {
		case errors.Is(err, errRevokeLater):
			sess.flash(r, "Your password has been changed. Your other sessions will be signed out within "+sess.touchWithin()+".")
		case err != nil:
			return rd.showForm(w, r, "password", v, err,
				map[error]string{user.ErrWrongPassword: "current_password", errValidation: "new_password"})
		default:
			sess.flash(r, "Your password has been changed, and your other sessions have been signed out.")
		}
		http.Redirect(w, r, "/account/sessions", http.StatusSeeOther)
		return nil
	})
}

func handleAPIPassword(rd *renderer, sess *sessions, users Users, limits passwordLimits, index SessionIndex, audit *auditLog, mail *mailer) http.Handler {
	type body struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		var b body
		if err := decodeJSON(r, &b); err != nil {
			return err
		}
		if b.Current == "" || b.New == "" {
			return &badRequest{"current_password and new_password are required"}
		}
		// The current password in the body is itself the recent
		// authentication this action needs: the API has no confirm page.
		err := changePassword(r, sess, users, limits, index, audit, mail, b.Current, b.New)
		switch {
		case errors.Is(err, errRevokeLater):
			writeJSON(w, http.StatusOK, map[string]string{"message": "Password changed; your other sessions will be signed out within " + sess.touchWithin()})
		case err != nil:
			return err
		default:
			writeJSON(w, http.StatusOK, map[string]string{"message": "Password changed; your other sessions were signed out"})
		}
		return nil
	})
}

// changePassword changes the signed-in user's password, gives this
// session a new token and signs out every other session. current is
// checked through the login limiter; "" means the session entered the
// password within the reauthentication window, which the caller checked,
// and none is asked. The account gets a "password changed" notice.
func changePassword(r *http.Request, sess *sessions, users Users, limits passwordLimits, index SessionIndex, audit *auditLog, mail *mailer, current, next string) error {
	u := currentUser(r)
	var err error
	if current == "" {
		err = users.SetPassword(r.Context(), u.UserID, next)
	} else {
		err = limits.check(r, audit, withASession, accountOf(u), u.UserID, func() error {
			return users.ChangePassword(r.Context(), u.UserID, current, next)
		})
	}
	if err != nil {
		return err
	}
	audit.event(r, auditPasswordChange, u.UserID, u.SID)
	mail.notify(r, account.KindPasswordChanged, u.UserID, nil)
	fresh, err := users.ByID(r.Context(), u.UserID)
	if err != nil {
		return err
	}
	if err := sess.reauthenticated(r, session.MethodPassword); err != nil {
		return err
	}
	sess.restamp(r, fresh.SecurityStamp)
	// The new stamp ends the other sessions at their next touch; revoking
	// them in Redis ends them now.
	if !revokeAll(r, index, audit, u.UserID, u.SID, session.EndedForSecurity, slog.String("by_session_id", u.SID), slog.String("reason", "password changed")) {
		return errRevokeLater
	}
	return nil
}

// errRevokeLater: the change was made, but the other sessions could not be
// revoked in Redis now; they end at their next touch.
var errRevokeLater = errors.New("sessions end at their next touch")
