package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
)

// parseForm reads a POSTed form within the body limit. On failure it has
// answered (413 or 400) and returns false.
func parseForm(w http.ResponseWriter, r *http.Request, rd *renderer) bool {
	err := r.ParseForm()
	if err == nil {
		return true
	}
	if _, ok := errorsAs[*http.MaxBytesError](err); ok {
		rd.clientError(w, r, http.StatusRequestEntityTooLarge)
		return false
	}
	rd.clientError(w, r, http.StatusBadRequest)
	return false
}

// validationMessage is the message of a ValidationError, for the form.
func validationMessage(err error) string {
	if ve, ok := errorsAs[*user.ValidationError](err); ok {
		return ve.Message
	}
	return "This value is not valid."
}

// storageError answers an error from Redis or MongoDB: 503 when the store
// could not be reached, 500 for anything else.
func storageError(w http.ResponseWriter, r *http.Request, rd *renderer, err error) {
	switch {
	case errors.Is(err, session.ErrUnavailable):
		rd.unavailable(w, r, "redis", err)
	case errors.Is(err, user.ErrUnavailable):
		rd.unavailable(w, r, "mongodb", err)
	case errors.Is(err, user.ErrBusy), errors.Is(err, context.Canceled):
		// A login flood, or a client that gave up waiting: not a fault.
		if errors.Is(err, user.ErrBusy) {
			rd.logger.Warn("password checks saturated", "request_id", requestID(r))
		}
		w.Header().Set("Retry-After", "2")
		rd.errorResponse(w, r, http.StatusServiceUnavailable, "Gatehouse is handling a great many sign-ins right now. Please try again in a few seconds.")
	default:
		rd.serverError(w, r, err)
	}
}

// popFlash returns and removes the one-time message, if any. It only writes
// to the session when there was a message.
func popFlash(s *sessions, r *http.Request) string {
	if !loaded(r) || !s.sm.Exists(r.Context(), keyFlash) {
		return ""
	}
	return s.sm.PopString(r.Context(), keyFlash)
}

// dashboardFor collects what the dashboard shows from the session alone.
func dashboardFor(s *sessions, r *http.Request) dashboardView {
	f := s.facts(r.Context())
	d := dashboardView{
		MemberSince:    f.MemberSince,
		LastLogin:      f.LastLogin,
		SessionStarted: f.AuthAt,
		SessionExpires: f.AuthAt.Add(s.lifetime(f)),
		Remember:       f.Remember,
	}
	if !f.Remember {
		d.IdleTimeout = s.idleText
	}
	return d
}

// humanDuration writes 30m0s as "30 minutes".
func humanDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0 && d >= time.Hour:
		if h := int(d / time.Hour); h != 1 {
			return strconv.Itoa(h) + " hours"
		}
		return "1 hour"
	case d%time.Minute == 0:
		if m := int(d / time.Minute); m != 1 {
			return strconv.Itoa(m) + " minutes"
		}
		return "1 minute"
	default:
		return d.String()
	}
}

// format fills in the text forms of the times, for the HTML page (the API
// sends the times themselves).
func (d *dashboardView) format() {
	d.MemberSinceText, d.SessionStartedText, d.SessionExpiresText = when(d.MemberSince), when(d.SessionStarted), when(d.SessionExpires)
	d.LastLoginText = ""
	if !d.LastLogin.IsZero() {
		d.LastLoginText = when(d.LastLogin)
	}
}
