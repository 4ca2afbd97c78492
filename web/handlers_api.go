package web

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/gatehouse/gatehouse/internal/user"
)

// credentials is the JSON body of /auth/register and /auth/login. Plain
// string fields: an object such as {"$ne": null} fails to decode, so no
// query operator can reach MongoDB.
type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
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
	msg := "Request body must be a JSON object with string fields username and password"
	if te, ok := errorsAs[*json.UnmarshalTypeError](err); ok && te.Field != "" {
		msg = "Field " + te.Field + " must be a string"
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

func handleAPILogin(sm *scs.SessionManager, rd *renderer, users Users, limiter LoginLimiter, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c credentials
		if !decodeJSON(w, r, &c) || !validCredentials(w, c) {
			return
		}
		u, err := authenticate(r, users, limiter, rd.logger, c.Username, c.Password)
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
		if err := signIn(r.Context(), sm, u, now()); err != nil {
			storageError(w, r, rd, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"message": "Welcome, " + u.Username + "!"})
	})
}

func handleAPILogout(sm *scs.SessionManager, rd *renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sm.Destroy(r.Context()); err != nil {
			storageError(w, r, rd, err)
			return
		}
		w.Header().Set("Clear-Site-Data", clearSiteData)
		writeJSON(w, http.StatusOK, map[string]string{"message": "Logged out successfully"})
	})
}

func handleAPIDashboard(sm *scs.SessionManager, _ *renderer) http.Handler {
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
		IdleTimeout     string    `json:"idle_timeout"`
	}
	type response struct {
		Message string      `json:"message"`
		User    userJSON    `json:"user"`
		Session sessionJSON `json:"session"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := currentUser(sm, r)
		d := dashboardFor(sm, r, sm.IdleTimeout)
		resp := response{
			Message: "Welcome " + u.Username,
			User:    userJSON{ID: u.ID, Username: u.Username, Role: u.Role, MemberSince: d.MemberSince},
			Session: sessionJSON{AuthenticatedAt: d.SessionStarted, ExpiresAt: d.SessionExpires, IdleTimeout: sm.IdleTimeout.String()},
		}
		if !d.LastLogin.IsZero() {
			resp.User.LastLogin = &d.LastLogin
		}
		writeJSON(w, http.StatusOK, resp)
	})
}
