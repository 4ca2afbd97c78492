package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/gatehouse/gatehouse/internal/user"
)

// This file reads input: HTML forms and JSON bodies, each bounded by
// limitBody, and the state of a form shown again with its errors.

// parseForm reads a POSTed form within the body limit. Its error is a
// *http.MaxBytesError (413) or errBadRequest (400).
func parseForm(r *http.Request) error {
	err := r.ParseForm()
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return err
	}
	return errBadRequest
}

// decodeJSON reads exactly one JSON object into dst, rejecting unknown
// fields, values of the wrong type and trailing data. Its errors are
// errNotJSON (415), a *http.MaxBytesError (413) or a *badRequest (400)
// saying what to fix.
func decodeJSON(r *http.Request, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errNotJSON
	}
	body, err := io.ReadAll(r.Body)
	if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return mbe
	}
	if err != nil {
		return &badRequest{"Request body could not be read"}
	}
	if err := strictKeys(body, dst); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
	if err == nil {
		if dec.Decode(&struct{}{}) != io.EOF {
			err = errors.New("trailing data")
		}
	}
	if err == nil {
		return nil
	}
	if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return mbe
	}
	msg := "Request body must be a JSON object with the documented fields"
	switch dst.(type) {
	case *credentials:
		msg = "Request body must be a JSON object with string fields username and password"
	case *registration:
		msg = "Request body must be a JSON object with string fields username, password and, optionally, email"
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
		msg = "Field " + te.Field + " must be a string"
		if te.Type != nil && te.Type.Kind() == reflect.Bool {
			msg = "Field " + te.Field + " must be true or false"
		}
	}
	return &badRequest{msg}
}

// strictKeys refuses a JSON object with a key twice, or with a key that
// matches one of dst's fields only case-insensitively. encoding/json
// accepts both (the last duplicate wins; case does not matter), so two
// parsers in front of each other could read one body two ways. Anything
// that is not a JSON object is left to the decoder to refuse.
func strictKeys(body []byte, dst any) error {
	fields := map[string]bool{}
	if t := reflect.TypeOf(dst); t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct {
		for f := range t.Elem().Fields() {
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
				fields[name] = true
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		if seen[key] {
			return &badRequest{"Field " + key + " appears more than once"}
		}
		seen[key] = true
		if !fields[key] {
			for name := range fields {
				if strings.EqualFold(name, key) {
					return &badRequest{"Field " + key + " must be spelt " + name}
				}
			}
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}

// credentials is the JSON body of /auth/register and /auth/login. Plain
// string fields: an object such as {"$ne": null} fails to decode, so no
// query operator can reach MongoDB.
type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Remember bool   `json:"remember"` // login only: a persistent cookie
}

// registration is the JSON body of /auth/register: credentials with an
// optional e-mail address.
type registration struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email"`
}

// check answers a missing field with a *badRequest.
func (c credentials) check() error {
	switch {
	case c.Username == "":
		return &badRequest{"Enter a username"}
	case c.Password == "":
		return &badRequest{"Enter a password"}
	}
	return nil
}

// formView is a form's state when it is shown again, with its errors
// (the GOV.UK Design System's error summary pattern: every error at once,
// listed at the top with a link to its field, and shown at the field).
type formView struct {
	Username string            // echoed back so that people need not retype it
	Email    string            // echoed back: the address fields
	Login    string            // echoed back: the forgot-password form's username or address
	Remember bool              // the login form's "remember me"
	Errors   map[string]string // field name to message
	General  string            // a message about the whole form
	// Summary lists every error in the order the page shows the fields;
	// a general message links to the form's first field.
	Summary []formError
	first   string // the id of the form's first field
}

// formError is one entry of the error summary.
type formError struct {
	Field, Message string
	General        bool
}

// newForm returns an empty form whose first field is first.
func newForm(first string) *formView { return &formView{Errors: map[string]string{}, first: first} }

// invalid records message for field. Messages are in the GOV.UK style:
// sentence case, no final full stop, saying what to do.
func (f *formView) invalid(field, message string) {
	if _, ok := f.Errors[field]; ok {
		return
	}
	f.Errors[field] = message
	f.Summary = append(f.Summary, formError{Field: field, Message: message})
}

// general records a message about the whole form, first in the summary.
func (f *formView) general(message string) {
	f.General = message
	f.Summary = append([]formError{{Field: f.first, Message: message, General: true}}, f.Summary...)
}

// ok reports whether no field has an error.
func (f *formView) ok() bool { return len(f.Summary) == 0 }

// check records err's message at field when err is not nil: a
// *user.ValidationError's own as it is, or its table message.
func (f *formView) check(field string, err error) {
	if err != nil {
		f.invalid(field, problemFor(err).message)
	}
}

// showForm renders page with v again when err is a problem of the input,
// with the message on the form, and returns nil; for any other error it
// renders nothing and returns err, for handle. Problems of the input are a
// *user.ValidationError and the table's 401, 403, 409 and 429 answers.
// Each goes to the field that fields names for it (a ValidationError under
// the key errValidation, else the field it names itself), or else to the
// whole form. The status is 422, or 429 with Retry-After for throttling.
func (rd *renderer) showForm(w http.ResponseWriter, r *http.Request, page string, v view, err error, fields map[error]string) error {
	p := problemFor(err)
	ve, invalid := errors.AsType[*user.ValidationError](err)
	switch p.status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict, http.StatusTooManyRequests:
	default:
		if !invalid {
			return err
		}
	}
	field := ""
	if invalid {
		field = ve.Field
	}
	for e, name := range fields {
		if errors.Is(err, e) || invalid && e == errValidation {
			field = name
		}
	}
	if v.Form == nil {
		v.Form = newForm("")
	}
	if field == "" {
		v.Form.general(p.message)
	} else {
		v.Form.invalid(field, p.message)
	}
	status := http.StatusUnprocessableEntity
	if p.status == http.StatusTooManyRequests {
		status = p.status
		w.Header().Set("Retry-After", retryAfterSeconds(p.retryAfter))
	}
	rd.log(r, p, err)
	rd.render(w, r, status, page, v)
	return nil
}

// errValidation, as a key of showForm's fields, names the field that
// shows a *user.ValidationError whatever field the error names.
var errValidation = errors.New("validation")
