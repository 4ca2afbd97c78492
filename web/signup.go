package web

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/user"
)

// Creating an account: the sign-up page and POST /auth/register share
// register. The page then signs the new user in; the API, as the
// tutorial's, does not.

const (
	msgWelcome         = "Welcome! Your account is ready and you are signed in."
	msgConfirmPassword = "Enter the same password in both fields"
)

func handleSignupGet(rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if currentUser(r) != nil {
			http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
			return
		}
		rd.render(w, r, http.StatusOK, "signup", view{})
	})
}

func handleSignupPost(rd *renderer, sess *sessions, users Users, signups signupLimit, devices deviceCookies, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		username := r.PostForm.Get("username")
		password, confirm := r.PostForm.Get("password"), r.PostForm.Get("password_confirm")
		form := newForm("username")
		form.Username = truncate(username, 64)
		_, err := user.CheckUsername(username)
		form.check("username", err)
		form.check("password", user.CheckNewPassword(password, username))
		if !user.SamePassword(password, confirm) {
			form.invalid("password_confirm", msgConfirmPassword)
		}
		if !form.ok() {
			rd.render(w, r, http.StatusUnprocessableEntity, "signup", view{Form: form})
			return nil
		}
		u, err := register(r, users, signups, username, password)
		if err != nil {
			return rd.showForm(w, r, "signup", view{Form: form}, err, map[error]string{user.ErrUsernameTaken: "username"})
		}
		// Registration signs the new user in, as people expect.
		if err := startSession(w, r, sess, devices, audit, u, false); err != nil {
			return err
		}
		sess.flash(r, msgWelcome)
		http.Redirect(w, r, sess.afterSignInVia(r, "/dashboard"), http.StatusSeeOther)
		return nil
	})
}

func handleAPIRegister(rd *renderer, users Users, signups signupLimit) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		var c credentials
		if err := decodeJSON(r, &c); err != nil {
			return err
		}
		if err := c.check(); err != nil {
			return err
		}
		if _, err := register(r, users, signups, c.Username, c.Password); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, map[string]string{"message": "User registered successfully"})
		return nil
	})
}

// register creates an account, within the sign-up limit of the request's
// IP.
func register(r *http.Request, users Users, signups signupLimit, username, password string) (*user.User, error) {
	if err := signups.admit(r); err != nil {
		return nil, err
	}
	return users.Register(r.Context(), username, password)
}
