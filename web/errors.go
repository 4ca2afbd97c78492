package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// Friendly text for the statuses people can meet.
var statusText = map[int][2]string{
	http.StatusBadRequest:            {"Bad request", "The request could not be understood. Please go back and try again."},
	http.StatusUnauthorized:          {"Please sign in", "You need to sign in to see this page."},
	http.StatusForbidden:             {"Request refused", "This request came from another site or was otherwise not allowed, so it was refused to protect your account. Please go back and try again from Gatehouse itself."},
	http.StatusNotFound:              {"Page not found", "There is no page at this address. Check the address, or start again from the home page."},
	http.StatusMethodNotAllowed:      {"Not allowed", "This page cannot be used that way."},
	http.StatusRequestEntityTooLarge: {"Too much data", "The form sent more data than Gatehouse accepts. Please shorten it and try again."},
	http.StatusUnsupportedMediaType:  {"Unsupported format", "This address expects JSON."},
	http.StatusUnprocessableEntity:   {"Please check the form", "Some of what you entered needs correcting."},
	http.StatusTooManyRequests:       {"Too many requests", "Too many requests came from your network. Please wait a while and try again."},
	http.StatusInternalServerError:   {"Something went wrong", "Sorry, something went wrong on our side. It has been logged and we will look into it. Please try again in a moment."},
	http.StatusServiceUnavailable:    {"Temporarily unavailable", "Gatehouse cannot reach one of its services right now. Please try again in a few seconds; you do not need to sign in again."},
}

// clientError answers a 4xx status as a friendly page or JSON.
func (rd *renderer) clientError(w http.ResponseWriter, r *http.Request, status int) {
	rd.logger.Debug("client error", "status", status, "path", r.URL.Path, "request_id", requestID(r))
	rd.errorResponse(w, r, status, "")
}

// serverError logs err with the request id and answers 500 without its text.
func (rd *renderer) serverError(w http.ResponseWriter, r *http.Request, err error) {
	rd.logger.Error("server error", "err", err, "method", r.Method, "path", r.URL.Path, "request_id", requestID(r))
	rd.errorResponse(w, r, http.StatusInternalServerError, "")
}

// unavailable answers 503 when Redis or MongoDB cannot be reached: the
// request was fine and may be retried.
func (rd *renderer) unavailable(w http.ResponseWriter, r *http.Request, dependency string, err error) {
	rd.logger.Error("dependency unavailable", "dependency", dependency, "err", err, "method", r.Method, "path", r.URL.Path, "request_id", requestID(r))
	w.Header().Set("Retry-After", "5")
	rd.errorResponse(w, r, http.StatusServiceUnavailable, "")
}

// tooManyRequests answers 429 with Retry-After.
func (rd *renderer) tooManyRequests(w http.ResponseWriter, r *http.Request, retryAfter time.Duration, message string) {
	w.Header().Set("Retry-After", retryAfterSeconds(retryAfter))
	rd.errorResponse(w, r, http.StatusTooManyRequests, message)
}

// errorResponse writes status with message (or the status's default text).
func (rd *renderer) errorResponse(w http.ResponseWriter, r *http.Request, status int, message string) {
	text, ok := statusText[status]
	if !ok {
		text = [2]string{http.StatusText(status), http.StatusText(status)}
	}
	if message == "" {
		message = text[1]
	}
	// Drop what a handler may have prepared for a success.
	w.Header().Del("Location")
	if wantsJSON(r) {
		if status == http.StatusUnauthorized {
			message = "Unauthorized"
		}
		writeJSON(w, status, map[string]string{"error": message})
		return
	}
	v := view{Error: &errorView{Status: status, Heading: text[0], Message: message}}
	if rd.sessions != nil {
		v.User = rd.sessions.current(r)
	}
	rd.render(w, r, status, "error", v)
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// errorsAs is errors.As with a type parameter.
func errorsAs[T error](err error) (T, bool) {
	var t T
	ok := errors.As(err, &t)
	return t, ok
}
