package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/gatehouse/gatehouse/internal/user"
)

// Messages shown to people. A wrong password and an unknown user share one.
const (
	msgBadCredentials = "Invalid username or password."
	msgTaken          = "That username is taken."
	msgMismatch       = "The passwords do not match."
	msgSignedOut      = "You have been signed out."
	msgWelcome        = "Welcome! Your account is ready and you are signed in."
)

// handleHome sends people where they can do something.
func handleHome(sm *scs.SessionManager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if currentUser(sm, r) != nil {
			http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
}

func handleLoginGet(sm *scs.SessionManager, rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if currentUser(sm, r) != nil {
			http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
			return
		}
		v := view{Flash: popFlash(sm, r)}
		// After logout the session is gone, so the notice travels in the URL.
		if r.URL.Query().Get("signed_out") == "1" {
			v.Flash = msgSignedOut
		}
		rd.render(w, r, http.StatusOK, "login", v)
	})
}

func handleLoginPost(sm *scs.SessionManager, rd *renderer, users Users, limiter LoginLimiter, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !parseForm(w, r, rd) {
			return
		}
		username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
		form := &formView{Username: truncate(username, 64), Errors: map[string]string{}}
		if username == "" {
			form.Errors["username"] = "Enter your username."
		}
		if password == "" {
			form.Errors["password"] = "Enter your password."
		}
		if len(form.Errors) > 0 {
			rd.render(w, r, http.StatusUnprocessableEntity, "login", view{Form: form})
			return
		}
		u, err := authenticate(r, users, limiter, rd.logger, username, password)
		var te *throttledError
		switch {
		case errors.Is(err, user.ErrInvalidCredentials):
			form.General = msgBadCredentials
			rd.render(w, r, http.StatusUnprocessableEntity, "login", view{Form: form})
			return
		case errors.As(err, &te):
			form.General = throttledMessage(te.retryAfter)
			w.Header().Set("Retry-After", retryAfterSeconds(te.retryAfter))
			rd.render(w, r, http.StatusTooManyRequests, "login", view{Form: form})
			return
		case err != nil:
			storageError(w, r, rd, err)
			return
		}
		if err := signIn(r.Context(), sm, u, now()); err != nil {
			storageError(w, r, rd, err)
			return
		}
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
	})
}

func handleSignupGet(sm *scs.SessionManager, rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if currentUser(sm, r) != nil {
			http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
			return
		}
		rd.render(w, r, http.StatusOK, "signup", view{})
	})
}

func handleSignupPost(sm *scs.SessionManager, rd *renderer, users Users, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !parseForm(w, r, rd) {
			return
		}
		username := r.PostForm.Get("username")
		password, confirm := r.PostForm.Get("password"), r.PostForm.Get("password_confirm")
		form := &formView{Username: truncate(username, 64), Errors: map[string]string{}}
		if _, err := user.NormalizeUsername(username); err != nil {
			form.Errors["username"] = validationMessage(err)
		}
		if err := user.ValidatePassword(password); err != nil {
			form.Errors["password"] = validationMessage(err)
		} else if password != confirm {
			form.Errors["password_confirm"] = msgMismatch
		}
		if len(form.Errors) > 0 {
			rd.render(w, r, http.StatusUnprocessableEntity, "signup", view{Form: form})
			return
		}
		u, err := users.Register(r.Context(), username, password)
		if ve, ok := errorsAs[*user.ValidationError](err); ok {
			form.Errors[ve.Field] = ve.Message
			rd.render(w, r, http.StatusUnprocessableEntity, "signup", view{Form: form})
			return
		}
		if errors.Is(err, user.ErrUsernameTaken) {
			form.Errors["username"] = msgTaken
			rd.render(w, r, http.StatusUnprocessableEntity, "signup", view{Form: form})
			return
		}
		if err != nil {
			storageError(w, r, rd, err)
			return
		}
		// Registration signs the new user in, as people expect.
		if err := signIn(r.Context(), sm, u, now()); err != nil {
			storageError(w, r, rd, err)
			return
		}
		sm.Put(r.Context(), keyFlash, msgWelcome)
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
	})
}

// clearSiteData tells the browser to drop everything it keeps for this
// site at logout: cached pages, cookies and storage.
const clearSiteData = `"cache", "cookies", "storage"`

// handleLogoutPost ends the session: its data is deleted from Redis and the
// cookie is expired. Anonymous visitors are simply sent to the login page.
func handleLogoutPost(sm *scs.SessionManager, rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sm.Destroy(r.Context()); err != nil {
			storageError(w, r, rd, err)
			return
		}
		w.Header().Set("Clear-Site-Data", clearSiteData)
		http.Redirect(w, r, "/login?signed_out=1", http.StatusSeeOther)
	})
}

func handleDashboard(sm *scs.SessionManager, rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rd.render(w, r, http.StatusOK, "dashboard", view{
			User:      currentUser(sm, r),
			Flash:     popFlash(sm, r),
			Dashboard: dashboardFor(sm, r, sm.IdleTimeout),
		})
	})
}
