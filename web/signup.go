package web

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/session"
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

func handleSignupPost(rd *renderer, sess *sessions, users Users, accounts Accounts, signups signupLimit, devices deviceCookies, audit *auditLog) http.Handler {
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
		email := ""
		if accounts != nil {
			email = r.PostForm.Get("email")
			form.Email = truncate(email, user.EmailMaxLen)
			form.check("email", user.CheckEmail(email))
		}
		if !form.ok() {
			rd.render(w, r, http.StatusUnprocessableEntity, "signup", view{Form: form})
			return nil
		}
		u, err := register(r, users, accounts, signups, username, password, email)
		if err != nil {
			return rd.showForm(w, r, "signup", view{Form: form}, err, map[error]string{user.ErrUsernameTaken: "username"})
		}
		// Registration signs the new user in, as people expect.
		if err := startSession(w, r, sess, devices, audit, nil, u, false, session.MethodPassword); err != nil {
			return err
		}
		if u.EmailPending != "" {
			sess.flash(r, msgWelcome+" We sent a link to "+u.EmailPending+": open it to confirm your email address.")
		} else {
			sess.flash(r, msgWelcome)
		}
		http.Redirect(w, r, sess.afterSignInVia(r, "/dashboard"), http.StatusSeeOther)
		return nil
	})
}

func handleAPIRegister(rd *renderer, users Users, accounts Accounts, signups signupLimit) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		var c registration
		if err := decodeJSON(r, &c); err != nil {
			return err
		}
		if err := (credentials{Username: c.Username, Password: c.Password}).check(); err != nil {
			return err
		}
		if c.Email != "" && accounts == nil {
			return &badRequest{"Field email cannot be used: this server sends no email"}
		}
		if _, err := register(r, users, accounts, signups, c.Username, c.Password, c.Email); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, map[string]string{"message": "User registered successfully"})
		return nil
	})
}

// register creates an account, within the sign-up limit of the request's
// IP; with e-mail on, with an optional address (email), which gets a
// verification link.
func register(r *http.Request, users Users, accounts Accounts, signups signupLimit, username, password, email string) (*user.User, error) {
	if err := user.CheckEmail(email); err != nil {
		return nil, err
	}
	if err := signups.admit(r); err != nil {
		return nil, err
	}
	if accounts != nil {
		return accounts.Register(r.Context(), username, password, email)
	}
	return users.Register(r.Context(), username, password)
}
