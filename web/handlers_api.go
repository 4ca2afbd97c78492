package web

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gatehouse/gatehouse/internal/user"
)

// credentials is the JSON body of /auth/register and /auth/login. Plain
// string fields: an object such as {"$ne": null} fails to decode, so no
// query operator can reach MongoDB.
type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Remember bool   `json:"remember"` // login only: a persistent cookie
}

// decodeJSON reads exactly one JSON object into dst, rejecting unknown
// fields, values of the wrong type and trailing data. On failure it has
// answered and returns false.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "Content-Type must be application/json"})
		return false
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
	if err == nil {
		if dec.Decode(&struct{}{}) != io.EOF {
			err = errors.New("trailing data")
		}
	}
	if err == nil {
		return true
	}
	if _, ok := errorsAs[*http.MaxBytesError](err); ok {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "Request body too large"})
		return false
	}
	msg := "Request body must be a JSON object with the documented fields"
	if _, ok := dst.(*credentials); ok {
		msg = "Request body must be a JSON object with string fields username and password"
	}
	if te, ok := errorsAs[*json.UnmarshalTypeError](err); ok && te.Field != "" {
		msg = "Field " + te.Field + " must be a string"
		if te.Type != nil && te.Type.Kind() == reflect.Bool {
			msg = "Field " + te.Field + " must be true or false"
		}
	}
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
	return false
}

// validCredentials answers 400 for a missing field.
func validCredentials(w http.ResponseWriter, c credentials) bool {
	switch {
	case c.Username == "":
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Username is required"})
	case c.Password == "":
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Password is required"})
	default:
		return true
	}
	return false
}

func handleAPIRegister(rd *renderer, users Users) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c credentials
		if !decodeJSON(w, r, &c) || !validCredentials(w, c) {
			return
		}
		_, err := users.Register(r.Context(), c.Username, c.Password)
		if ve, ok := errorsAs[*user.ValidationError](err); ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": ve.Message})
			return
		}
		if errors.Is(err, user.ErrUsernameTaken) {
			writeJSON(w, http.StatusConflict, map[string]string{"error": "That username is taken"})
			return
		}
		if err != nil {
			storageError(w, r, rd, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"message": "User registered successfully"})
	})
}

func handleAPILogin(s *sessions, rd *renderer, users Users, limiter LoginLimiter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c credentials
		if !decodeJSON(w, r, &c) || !validCredentials(w, c) {
			return
		}
		u, err := authenticate(r, s, users, limiter, c.Username, c.Password)
		if errors.Is(err, user.ErrInvalidCredentials) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Invalid username or password"})
			return
		}
		var te *throttledError
		if errors.As(err, &te) {
			w.Header().Set("Retry-After", retryAfterSeconds(te.retryAfter))
			writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": throttledMessage(te.retryAfter)})
			return
		}
		if err != nil {
			storageError(w, r, rd, err)
			return
		}
		if err := s.signIn(r, u, c.Remember); err != nil {
			storageError(w, r, rd, err)
			return
		}
		s.audit.event(r, auditLoginSuccess, u.ID, s.facts(r.Context()).SID)
		writeJSON(w, http.StatusOK, map[string]string{"message": "Welcome, " + u.Username + "!"})
	})
}

func handleAPILogout(s *sessions, rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !logout(w, r, s, rd) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"message": "Logged out successfully"})
	})
}

func handleAPIDashboard(s *sessions) http.Handler {
	type userJSON struct {
		ID          string     `json:"id"`
		Username    string     `json:"username"`
		Role        string     `json:"role"`
		MemberSince time.Time  `json:"member_since"`
		LastLogin   *time.Time `json:"previous_login_at"`
	}
	type sessionJSON struct {
		AuthenticatedAt time.Time `json:"authenticated_at"`
		ExpiresAt       time.Time `json:"expires_at"`
		IdleTimeout     string    `json:"idle_timeout,omitempty"`
		Remember        bool      `json:"remember"`
	}
	type response struct {
		Message string      `json:"message"`
		User    userJSON    `json:"user"`
		Session sessionJSON `json:"session"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := s.current(r)
		d := dashboardFor(s, r)
		resp := response{
			Message: "Welcome " + u.Username,
			User:    userJSON{ID: u.ID, Username: u.Username, Role: u.Role, MemberSince: d.MemberSince},
			Session: sessionJSON{AuthenticatedAt: d.SessionStarted, ExpiresAt: d.SessionExpires, Remember: d.Remember},
		}
		if !d.Remember {
			resp.Session.IdleTimeout = s.policy.IdleTimeout.String()
		}
		if !d.LastLogin.IsZero() {
			resp.User.LastLogin = &d.LastLogin
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

// sessionJSON is one session in GET /api/sessions.
type sessionJSON struct {
	ID              string    `json:"id"`
	Current         bool      `json:"current"`
	CreatedAt       time.Time `json:"created_at"`
	AuthenticatedAt time.Time `json:"authenticated_at"`
	LastSeenAt      time.Time `json:"last_seen_at"`
	IP              string    `json:"ip"`
	Device          string    `json:"device"`
	Remember        bool      `json:"remember"`
}

func handleAPISessions(s *sessions, rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := s.current(r)
		list, err := s.index.List(r.Context(), u.ID)
		if err != nil {
			storageError(w, r, rd, err)
			return
		}
		out := make([]sessionJSON, 0, len(list))
		for _, x := range list {
			out = append(out, sessionJSON{ID: x.ID, Current: x.ID == u.SID, CreatedAt: x.Created, AuthenticatedAt: x.AuthAt,
				LastSeenAt: x.LastSeen, IP: x.IP, Device: x.Device, Remember: x.Remember})
		}
		writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
	})
}

func handleAPISessionDelete(s *sessions, rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := s.current(r)
		id := chi.URLParam(r, "id")
		if !validSessionID(id) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "No such session"})
			return
		}
		if id == u.SID {
			// Revoking the current session is a logout.
			s.audit.event(r, auditLogout, u.ID, u.SID)
			if err := s.signOut(r); err != nil {
				storageError(w, r, rd, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		ok, err := s.index.Revoke(r.Context(), u.ID, id)
		if err != nil {
			storageError(w, r, rd, err)
			return
		}
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "No such session"})
			return
		}
		s.audit.event(r, auditSessionRevoked, u.ID, u.SID, slogString("revoked_session_id", id))
		w.WriteHeader(http.StatusNoContent)
	})
}

// validSessionID accepts what session.NewID makes: 22 base64url characters.
func validSessionID(id string) bool {
	return len(id) == 22 && validTokenChars(id)
}

func handleAPIPassword(s *sessions, rd *renderer, users Users) http.Handler {
	type body struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b body
		if !decodeJSON(w, r, &b) {
			return
		}
		if b.Current == "" || b.New == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "current_password and new_password are required"})
			return
		}
		// The current password in the body is itself the recent
		// authentication this action needs: the API has no confirm page.
		err := changePassword(r, s, users, b.Current, b.New)
		if ve, ok := errorsAs[*user.ValidationError](err); ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": ve.Message})
			return
		}
		if errors.Is(err, user.ErrWrongPassword) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "The current password is wrong"})
			return
		}
		if err != nil {
			storageError(w, r, rd, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"message": "Password changed; your other sessions were signed out"})
	})
}

// changePassword changes the signed-in user's password, gives this session
// a new token and signs out every other session.
func changePassword(r *http.Request, s *sessions, users Users, current, next string) error {
	u := s.current(r)
	if err := users.ChangePassword(r.Context(), u.ID, current, next); err != nil {
		return err
	}
	s.audit.event(r, auditPasswordChange, u.ID, u.SID)
	if err := s.renew(r); err != nil {
		return err
	}
	s.confirmPassword(r.Context())
	revoked, err := s.index.RevokeAll(r.Context(), u.ID, u.SID)
	if err != nil {
		return err
	}
	for _, id := range revoked {
		s.audit.event(r, auditSessionRevoked, u.ID, u.SID, slogString("revoked_session_id", id), slogString("reason", "password changed"))
	}
	return nil
}
