package web

import (
	"errors"
	"net/http"

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
func handleHome(s *sessions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.current(r) != nil {
			http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
}

func handleLoginGet(s *sessions, rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.current(r) != nil {
			http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
			return
		}
		v := view{Flash: popFlash(s, r)}
		// After logout the session is gone, so the notice travels in the URL.
		if r.URL.Query().Get("signed_out") == "1" {
			v.Flash = msgSignedOut
		}
		rd.render(w, r, http.StatusOK, "login", v)
	})
}

func handleLoginPost(s *sessions, rd *renderer, users Users, limiter LoginLimiter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !parseForm(w, r, rd) {
			return
		}
		username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
		remember := r.PostForm.Get("remember") != ""
		form := &formView{Username: truncate(username, 64), Remember: remember, Errors: map[string]string{}}
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
		u, err := authenticate(r, s, users, limiter, username, password)
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
		if err := s.signIn(r, u, remember); err != nil {
			storageError(w, r, rd, err)
			return
		}
		s.audit.event(r, auditLoginSuccess, u.ID, s.facts(r.Context()).SID)
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
	})
}

func handleSignupGet(s *sessions, rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.current(r) != nil {
			http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
			return
		}
		rd.render(w, r, http.StatusOK, "signup", view{})
	})
}

func handleSignupPost(s *sessions, rd *renderer, users Users) http.Handler {
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
		if err := s.signIn(r, u, false); err != nil {
			storageError(w, r, rd, err)
			return
		}
		s.audit.event(r, auditLoginSuccess, u.ID, s.facts(r.Context()).SID)
		s.sm.Put(r.Context(), keyFlash, msgWelcome)
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
	})
}

// clearSiteData tells the browser to drop everything it keeps for this
// site at logout: cached pages, cookies and storage.
const clearSiteData = `"cache", "cookies", "storage"`

// logout ends the request's session, audits it and asks the browser to
// clear the site's data. On failure it has answered and returns false.
func logout(w http.ResponseWriter, r *http.Request, s *sessions, rd *renderer) bool {
	if u := s.current(r); u != nil {
		s.audit.event(r, auditLogout, u.ID, u.SID)
	}
	if err := s.signOut(r); err != nil {
		storageError(w, r, rd, err)
		return false
	}
	w.Header().Set("Clear-Site-Data", clearSiteData)
	return true
}

// handleLogoutPost ends the session: its data is deleted from Redis and the
// cookie is expired. Anonymous visitors are simply sent to the login page.
func handleLogoutPost(s *sessions, rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !logout(w, r, s, rd) {
			return
		}
		http.Redirect(w, r, "/login?signed_out=1", http.StatusSeeOther)
	})
}

// dashboardPage is the dashboard's view for k (its user is k.user).
func dashboardPage(k dashboardKey) view {
	u, d := k.user, k.dash
	d.format()
	return view{User: &u, Dashboard: &d, Year: k.year}
}

func handleDashboard(s *sessions, rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, flash := s.current(r), popFlash(s, r)
		k := dashboardKey{dash: dashboardFor(s, r), year: rd.now().Year()}
		if u == nil || flash != "" {
			v := dashboardPage(k)
			v.User, v.Flash = u, flash
			rd.render(w, r, http.StatusOK, "dashboard", v)
			return
		}
		// The same session shows the same page until its facts change.
		k.user = *u
		renderCached(rd, rd.dashboards, w, r, "dashboard", k, dashboardPage)
	})
}
