package web

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/user"
)

// The password: changing it (the page and POST /api/password share
// changePassword), and confirming it again before a sensitive action (the
// confirm page, which requireRecentAuth sends people to).

func handlePasswordGet(rd *renderer, sess *sessions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rd.render(w, r, http.StatusOK, "password", view{User: currentUser(r), Flash: sess.popFlash(r)})
	})
}

func handlePasswordPost(rd *renderer, sess *sessions, users Users, limits passwordLimits, index SessionIndex, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		current := r.PostForm.Get("current_password")
		next, confirm := r.PostForm.Get("new_password"), r.PostForm.Get("new_password_confirm")
		form := newForm()
		if current == "" {
			form.invalid("current_password", "Enter your current password.")
		}
		if err := user.ValidatePassword(next); err != nil {
			form.check("new_password", err)
		} else if !user.SamePassword(next, confirm) {
			form.invalid("new_password_confirm", "The passwords do not match.")
		}
		v := view{User: currentUser(r), Form: form}
		if !form.ok() {
			rd.render(w, r, http.StatusUnprocessableEntity, "password", v)
			return nil
		}
		err := changePassword(r, sess, users, limits, index, audit, current, next)
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

func handleAPIPassword(rd *renderer, sess *sessions, users Users, limits passwordLimits, index SessionIndex, audit *auditLog) http.Handler {
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
		err := changePassword(r, sess, users, limits, index, audit, b.Current, b.New)
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

// changePassword changes the signed-in user's password, the current one
// checked through the login limiter, gives this session a new token and
// signs out every other session.
func changePassword(r *http.Request, sess *sessions, users Users, limits passwordLimits, index SessionIndex, audit *auditLog, current, next string) error {
	u := currentUser(r)
	if err := limits.check(r, audit, withASession, accountOf(u), u.UserID, func() error {
		return users.ChangePassword(r.Context(), u.UserID, current, next)
	}); err != nil {
		return err
	}
	audit.event(r, auditPasswordChange, u.UserID, u.SID)
	fresh, err := users.ByID(r.Context(), u.UserID)
	if err != nil {
		return err
	}
	if err := sess.renew(r); err != nil {
		return err
	}
	sess.restamp(r, fresh.SecurityStamp)
	sess.confirmPassword(r)
	// The new stamp ends the other sessions at their next touch; revoking
	// them in Redis ends them now.
	if !revokeAll(r, index, audit, u.UserID, u.SID, slog.String("by_session_id", u.SID), slog.String("reason", "password changed")) {
		return errRevokeLater
	}
	return nil
}

// errRevokeLater: the change was made, but the other sessions could not be
// revoked in Redis now; they end at their next touch.
var errRevokeLater = errors.New("sessions end at their next touch")

// safeReturn accepts only this site's account and admin pages as a place
// to return to after confirming the password: no open redirect.
func safeReturn(next string) string {
	for _, ok := range []string{"/account/sessions", "/account/password", "/admin/users"} {
		if next == ok {
			return next
		}
	}
	return "/dashboard"
}

func handleConfirmGet(rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next := safeReturn(r.URL.Query().Get("next"))
		rd.render(w, r, http.StatusOK, "confirm", view{User: currentUser(r), Next: next})
	})
}

// handleConfirmPost checks the password again for a sensitive action, and
// returns to it.
func handleConfirmPost(rd *renderer, sess *sessions, users Users, limits passwordLimits, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		u := currentUser(r)
		next := safeReturn(r.PostForm.Get("next"))
		err := limits.check(r, audit, withASession, accountOf(u), u.UserID, func() error {
			err := users.CheckPassword(r.Context(), u.UserID, r.PostForm.Get("password"))
			if errors.Is(err, user.ErrNotFound) {
				// The account was deleted meanwhile: answer as for a
				// wrong password, and let the next touch end the session.
				err = user.ErrWrongPassword
			}
			return err
		})
		if err != nil {
			return rd.showForm(w, r, "confirm", view{User: u, Next: next}, err, map[error]string{user.ErrWrongPassword: "password"})
		}
		// A privilege step: new token, same absolute deadline.
		if err := sess.renew(r); err != nil {
			return err
		}
		sess.confirmPassword(r)
		audit.event(r, auditReauth, u.UserID, u.SID)
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	})
}
