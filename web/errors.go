package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/passkey"
	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/user"
)

// This file is the one place that turns errors into responses (pkgsite's
// style). Handlers return an error; handle answers it as an error page or
// as JSON, with the status and message problemFor finds in one table. Forms
// show the same message next to the field it concerns (formView.fail).

// Errors of the web layer itself, for the table.
var (
	errBadRequest       = errors.New("bad request")
	errUnauthorized     = errors.New("not signed in")
	errNotAdmin         = errors.New("admins only")
	errCrossOrigin      = errors.New("cross-origin request refused")
	errReauthRequired   = errors.New("recent authentication required")
	errNotFound         = errors.New("not found")
	errNoSuchSession    = errors.New("no such session")
	errMethodNotAllowed = errors.New("method not allowed")
	errNotJSON          = errors.New("content type is not JSON")
	errThrottled        = errors.New("too many requests")
	// errSecondFactorRequired: the user's role must sign in with two
	// factors (REQUIRE_2FA_ROLES), and this session has one.
	errSecondFactorRequired = errors.New("second factor required")
	errPanic                = errors.New("panic") // a 500, as any error the table does not list
)

// badRequest is a 400 with a message that says what to fix, such as
// "Field username must be a string".
type badRequest struct{ message string }

func (e *badRequest) Error() string { return e.message }
func (e *badRequest) Unwrap() error { return errBadRequest }

// throttledError is a 429: a login refused before the password was checked,
// or a request refused for guessing session tokens. message is "" for the
// status's own text.
type throttledError struct {
	retryAfter time.Duration
	message    string
}

func (e *throttledError) Error() string { return errThrottled.Error() }
func (e *throttledError) Unwrap() error { return errThrottled }

// problem is how one kind of error is answered.
type problem struct {
	status int
	// message is for people, in the GOV.UK style: sentence case, no final
	// full stop, saying what to do. Forms and JSON show it as it is; an
	// error page ends it with a full stop (sentence). "" takes the
	// status's text.
	message string
	// code, when set, is a stable machine-readable "code" in JSON.
	code string
	// retryAfter, when set, is sent as Retry-After.
	retryAfter time.Duration
	// level and logMsg: how the error is logged. 4xx at debug, outages at
	// error, overload at warn.
	level  slog.Level
	logMsg string
	// dependency names the service that failed, for the log.
	dependency string
}

const (
	msgBadCredentials = "Check your username and password: they do not match an account"
	msgBusy           = "Gatehouse is handling a great many sign-ins right now. Please try again in a few seconds"
	msgLinkInvalid    = "That link has expired or has already been used: ask for a new one"
	msgPasskeyFailed  = "That passkey could not be verified: try again, or use your password"
)

// problems maps each sentinel error, as errors.Is finds it, to its
// answer. The first match wins.
var problems = []struct {
	err error
	p   problem
}{
	{errBadRequest, problem{status: http.StatusBadRequest}},
	{errNotJSON, problem{status: http.StatusUnsupportedMediaType, message: "Content-Type must be application/json"}},
	{errUnauthorized, problem{status: http.StatusUnauthorized}},
	{user.ErrInvalidCredentials, problem{status: http.StatusUnauthorized, message: msgBadCredentials}},
	{user.ErrWrongPassword, problem{status: http.StatusForbidden, message: "Enter your current password: that one is not right"}},
	{errNotAdmin, problem{status: http.StatusForbidden, message: "This area is for administrators. If you need access, ask one of them"}},
	{errCrossOrigin, problem{status: http.StatusForbidden, level: slog.LevelWarn, logMsg: "cross-origin request refused"}},
	{errReauthRequired, problem{status: http.StatusForbidden, message: "Please confirm your password first", code: "reauth_required"}},
	{mfa.ErrWrongCode, problem{status: http.StatusUnauthorized, message: "Enter the code your authenticator app shows now, or an unused recovery code: that one is not right"}},
	{errSecondFactorRequired, problem{status: http.StatusForbidden, message: "Set up a second factor first, at /account/2fa or /account/passkeys", code: "second_factor_required"}},
	{errNoSuchSession, problem{status: http.StatusNotFound, message: "No such session"}},
	{errNotFound, problem{status: http.StatusNotFound}},
	{user.ErrNotFound, problem{status: http.StatusNotFound}},
	{errMethodNotAllowed, problem{status: http.StatusMethodNotAllowed}},
	{user.ErrUsernameTaken, problem{status: http.StatusConflict, message: "Choose another username: that one is taken"}},
	{user.ErrLastAdmin, problem{status: http.StatusConflict, message: "Gatehouse needs at least one enabled admin: promote someone else first"}},
	{user.ErrEmailTaken, problem{status: http.StatusConflict, message: "Use a different email address: that one belongs to another account"}},
	{user.ErrEmailLookalike, problem{status: http.StatusConflict, message: "Use a different email address: that one looks too much like another account's"}},
	{account.ErrLinkInvalid, problem{status: http.StatusBadRequest, message: msgLinkInvalid, code: "link_invalid"}},
	// Passkeys (passkeys.go).
	{passkey.ErrChallenge, problem{status: http.StatusBadRequest, message: "That passkey request has expired or was already used: try again", code: "challenge_invalid"}},
	{passkey.ErrFailed, problem{status: http.StatusUnauthorized, message: msgPasskeyFailed, code: "passkey_failed"}},
	{passkey.ErrCloned, problem{status: http.StatusUnauthorized, message: msgPasskeyFailed, code: "passkey_failed"}},
	{passkey.ErrName, problem{status: http.StatusBadRequest, message: "Enter a name for the passkey, at most 64 characters, such as the device it is on"}},
	{passkey.ErrExists, problem{status: http.StatusConflict, message: "That passkey is already registered"}},
	{passkey.ErrTooMany, problem{status: http.StatusConflict, message: "You have as many passkeys as an account may hold: remove one first"}},
	{passkey.ErrNotFound, problem{status: http.StatusNotFound, message: "No such passkey"}},
	{errThrottled, problem{status: http.StatusTooManyRequests}},
	{redis.ErrUnavailable, problem{status: http.StatusServiceUnavailable, retryAfter: 5 * time.Second,
		level: slog.LevelError, logMsg: "dependency unavailable", dependency: "redis"}},
	{user.ErrUnavailable, problem{status: http.StatusServiceUnavailable, retryAfter: 5 * time.Second,
		level: slog.LevelError, logMsg: "dependency unavailable", dependency: "mongodb"}},
	// A login flood, or a client that gave up waiting: not a fault.
	{user.ErrBusy, problem{status: http.StatusServiceUnavailable, message: msgBusy, retryAfter: 2 * time.Second,
		level: slog.LevelWarn, logMsg: "password checks saturated"}},
	{context.Canceled, problem{status: http.StatusServiceUnavailable, message: msgBusy, retryAfter: 2 * time.Second,
		level: slog.LevelDebug, logMsg: "client gave up"}},
}

// problemFor returns the answer to err: its table entry, with the message
// and wait of the error types that carry their own. Anything else is a 500,
// logged at error; its text never reaches the response.
func problemFor(err error) problem {
	p := problem{status: http.StatusInternalServerError, level: slog.LevelError, logMsg: "server error"}
	for _, e := range problems {
		if errors.Is(err, e.err) {
			p = e.p
			break
		}
	}
	switch {
	case p.status == http.StatusInternalServerError:
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			p = problem{status: http.StatusRequestEntityTooLarge}
		} else if ve, ok := errors.AsType[*user.ValidationError](err); ok {
			p = problem{status: http.StatusBadRequest, message: ve.Message}
		}
	case errors.Is(err, errBadRequest):
		if br, ok := errors.AsType[*badRequest](err); ok {
			p.message = br.message
		}
	case errors.Is(err, errThrottled):
		if te, ok := errors.AsType[*throttledError](err); ok {
			p.message, p.retryAfter = te.message, te.retryAfter
		}
	}
	if p.logMsg == "" {
		p.level, p.logMsg = slog.LevelDebug, "client error"
	}
	return p
}

// Friendly headings and default messages for the statuses people meet.
var statusText = map[int][2]string{
	http.StatusBadRequest:            {"Bad request", "The request could not be understood. Please go back and try again"},
	http.StatusUnauthorized:          {"Please sign in", "You need to sign in to see this page"},
	http.StatusForbidden:             {"Request refused", "This request came from another site or was otherwise not allowed, so it was refused to protect your account. Please go back and try again from Gatehouse itself"},
	http.StatusNotFound:              {"Page not found", "There is no page at this address. Check the address, or start again from the home page"},
	http.StatusMethodNotAllowed:      {"Not allowed", "This page cannot be used that way"},
	http.StatusConflict:              {"Conflict", "That could not be done as things stand"},
	http.StatusRequestEntityTooLarge: {"Too much data", "Gatehouse accepts at most 64 KB in one request. Please send less and try again"},
	http.StatusUnsupportedMediaType:  {"Unsupported format", "This address expects JSON"},
	http.StatusUnprocessableEntity:   {"Please check the form", "Some of what you entered needs correcting"},
	http.StatusTooManyRequests:       {"Too many requests", "Too many requests came from your network. Please wait a while and try again"},
	http.StatusInternalServerError:   {"Something went wrong", "Sorry, something went wrong on our side. It has been logged and we will look into it. Please try again in a moment"},
	http.StatusServiceUnavailable:    {"Temporarily unavailable", "Gatehouse cannot reach one of its services right now. Please try again in a few seconds; you do not need to sign in again"},
}

// sentence ends a message with a full stop, as pages show it.
func sentence(s string) string {
	if s == "" || s[len(s)-1] == '.' {
		return s
	}
	return s + "."
}

// handlerFunc is a handler that can fail; handle answers its error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts h to http.Handler: a returned error is answered by fail.
func (rd *renderer) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			rd.fail(w, r, err)
		}
	})
}

// fail logs err as its problem says and answers it: JSON on the API, an
// error page otherwise.
func (rd *renderer) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	rd.log(r, p, err)
	rd.answer(w, r, p)
}

func (rd *renderer) log(r *http.Request, p problem, err error) {
	if !rd.logger.Enabled(r.Context(), p.level) {
		return
	}
	attrs := []slog.Attr{slog.Int("status", p.status), slog.String("method", truncate(r.Method, 16)),
		slog.String("path", truncate(r.URL.Path, 200)), slog.String("request_id", requestID(r))}
	if p.dependency != "" {
		attrs = append(attrs, slog.String("dependency", p.dependency))
	}
	if p.level >= slog.LevelWarn {
		attrs = append(attrs, slog.Any("err", err))
	}
	rd.logger.LogAttrs(r.Context(), p.level, p.logMsg, attrs...)
}

// answer writes p's status and message, with Retry-After when it has one.
func (rd *renderer) answer(w http.ResponseWriter, r *http.Request, p problem) {
	text, ok := statusText[p.status]
	if !ok {
		text = [2]string{http.StatusText(p.status), http.StatusText(p.status)}
	}
	message := p.message
	if message == "" {
		message = text[1]
	}
	// Drop what a handler may have prepared for a success.
	w.Header().Del("Location")
	if p.retryAfter > 0 {
		w.Header().Set("Retry-After", retryAfterSeconds(p.retryAfter))
	}
	if wantsJSON(r) {
		if p.status == http.StatusUnauthorized && p.message == "" {
			message = "Unauthorized" // the tutorial's answer
		}
		body := map[string]string{"error": message}
		if p.code != "" {
			body["code"] = p.code
		}
		writeJSON(w, p.status, body)
		return
	}
	rd.render(w, r, p.status, "error", view{
		User:  currentUser(r),
		Error: &errorView{Status: p.status, Heading: text[0], Message: sentence(message)},
	})
}

// retryAfterSeconds is the Retry-After value, rounded up.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
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
