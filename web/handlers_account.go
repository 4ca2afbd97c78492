package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/gatehouse/gatehouse/internal/user"
)

func handleSessionsGet(s *sessions, rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := s.current(r)
		list, err := s.index.List(r.Context(), u.ID)
		if err != nil {
			storageError(w, r, rd, err)
			return
		}
		rd.render(w, r, http.StatusOK, "sessions", view{User: u, Flash: popFlash(s, r), Sessions: list})
	})
}

// handleSessionRevokePost signs out one of the user's sessions; for the
// current one, that is a logout.
func handleSessionRevokePost(s *sessions, rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := s.current(r)
		id := chi.URLParam(r, "id")
		if id == u.SID {
			s.audit.event(r, auditLogout, u.ID, u.SID)
			if err := s.signOut(r); err != nil {
				storageError(w, r, rd, err)
				return
			}
			http.Redirect(w, r, "/login?signed_out=1", http.StatusSeeOther)
			return
		}
		if !validSessionID(id) {
			rd.clientError(w, r, http.StatusNotFound)
			return
		}
		ok, err := s.index.Revoke(r.Context(), u.ID, id)
		if err != nil {
			storageError(w, r, rd, err)
			return
		}
		if ok {
			s.audit.event(r, auditSessionRevoked, u.ID, u.SID, slogString("revoked_session_id", id))
			s.sm.Put(r.Context(), keyFlash, "That session has been signed out.")
		} else {
			s.sm.Put(r.Context(), keyFlash, "That session had already ended.")
		}
		http.Redirect(w, r, "/account/sessions", http.StatusSeeOther)
	})
}

func handleSessionsRevokeOthersPost(s *sessions, rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := s.current(r)
		revoked, err := s.index.RevokeAll(r.Context(), u.ID, u.SID)
		if err != nil {
			storageError(w, r, rd, err)
			return
		}
		for _, id := range revoked {
			s.audit.event(r, auditSessionRevoked, u.ID, u.SID, slogString("revoked_session_id", id))
		}
		msg := "All your other sessions have been signed out."
		if len(revoked) == 0 {
			msg = "There were no other sessions to sign out."
		}
		s.sm.Put(r.Context(), keyFlash, msg)
		http.Redirect(w, r, "/account/sessions", http.StatusSeeOther)
	})
}

func handlePasswordGet(s *sessions, rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rd.render(w, r, http.StatusOK, "password", view{User: s.current(r), Flash: popFlash(s, r)})
	})
}

func handlePasswordPost(s *sessions, rd *renderer, users Users) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !parseForm(w, r, rd) {
			return
		}
		current := r.PostForm.Get("current_password")
		next, confirm := r.PostForm.Get("new_password"), r.PostForm.Get("new_password_confirm")
		form := &formView{Errors: map[string]string{}}
		if current == "" {
			form.Errors["current_password"] = "Enter your current password."
		}
		if err := user.ValidatePassword(next); err != nil {
			form.Errors["new_password"] = validationMessage(err)
		} else if next != confirm {
			form.Errors["new_password_confirm"] = msgMismatch
		}
		page := func(status int) {
			rd.render(w, r, status, "password", view{User: s.current(r), Form: form})
		}
		if len(form.Errors) > 0 {
			page(http.StatusUnprocessableEntity)
			return
		}
		err := changePassword(r, s, users, current, next)
		switch {
		case errors.Is(err, user.ErrWrongPassword):
			form.Errors["current_password"] = "That is not your current password."
			page(http.StatusUnprocessableEntity)
			return
		case err != nil:
			if ve, ok := errorsAs[*user.ValidationError](err); ok {
				form.Errors["new_password"] = ve.Message
				page(http.StatusUnprocessableEntity)
				return
			}
			storageError(w, r, rd, err)
			return
		}
		s.sm.Put(r.Context(), keyFlash, "Your password has been changed, and your other sessions have been signed out.")
		http.Redirect(w, r, "/account/sessions", http.StatusSeeOther)
	})
}

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

func handleConfirmGet(s *sessions, rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next := safeReturn(r.URL.Query().Get("next"))
		rd.render(w, r, http.StatusOK, "confirm", view{User: s.current(r), Next: next})
	})
}

// handleConfirmPost checks the password again for a sensitive action, and
// returns to it.
func handleConfirmPost(s *sessions, rd *renderer, users Users) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !parseForm(w, r, rd) {
			return
		}
		u := s.current(r)
		next := safeReturn(r.PostForm.Get("next"))
		form := &formView{Errors: map[string]string{}}
		err := users.CheckPassword(r.Context(), u.ID, r.PostForm.Get("password"))
		switch {
		case errors.Is(err, user.ErrWrongPassword), errors.Is(err, user.ErrNotFound):
			form.Errors["password"] = "That is not your password."
			rd.render(w, r, http.StatusUnprocessableEntity, "confirm", view{User: u, Next: next, Form: form})
			return
		case err != nil:
			storageError(w, r, rd, err)
			return
		}
		// A privilege step: new token, same absolute deadline.
		if err := s.renew(r); err != nil {
			storageError(w, r, rd, err)
			return
		}
		s.confirmPassword(r.Context())
		s.audit.event(r, auditReauth, u.ID, u.SID)
		http.Redirect(w, r, next, http.StatusSeeOther)
	})
}

// pageURL builds /admin/users links that keep the filter.
func pageURL(filter string, page int) string {
	v := url.Values{}
	if strings.TrimSpace(filter) != "" {
		v.Set("q", filter)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/admin/users"
	}
	return "/admin/users?" + v.Encode()
}
