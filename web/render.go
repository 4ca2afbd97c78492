package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
)

// pageNames are the pages in templates/pages, each parsed into its own set
// with the layout and partials.
var pageNames = []string{"login", "signup", "dashboard", "error", "sessions", "password", "confirm", "admin_users", "cookie_refused",
	"forgot", "forgot_sent", "reset", "link", "email", "email_verify", "login_2fa", "two_factor", "passkeys"}

// renderer turns page names and view data into HTML responses, and errors
// into error pages (errors.go). Handlers call it rd.
type renderer struct {
	fsys   fs.FS
	reload bool
	logger *slog.Logger
	now    func() time.Time
	limits limitsView
	// mail: e-mail is on (Deps.Accounts), so pages offer its links
	// and fields.
	mail bool
	// passkeys: passkeys are on (Deps.Passkeys); the navigation links
	// to their page.
	passkeys bool
	pages    map[string]*template.Template
	bufs     sync.Pool
	// dashboards keeps rendered dashboards (dashboard.go).
	dashboards *pageCache[dashboardPage]
}

func newRenderer(fsys fs.FS, reload bool, logger *slog.Logger, now func() time.Time, policy session.Policy) (*renderer, error) {
	rd := &renderer{fsys: fsys, reload: reload, logger: logger, now: now, limits: limitsView{
		UsernameMin: user.UsernameMinLen, UsernameMax: user.UsernameMaxLen,
		PasswordMin: user.PasswordMinLen, PasswordMax: user.PasswordMaxLen,
		RememberFor: humanDuration(policy.RememberLifetime),
	}}
	rd.bufs.New = func() any { return new(bytes.Buffer) }
	rd.dashboards = newPageCache[dashboardPage](dashboardCacheGeneration)
	pages, err := parsePages(fsys)
	if err != nil {
		return nil, err
	}
	rd.pages = pages
	return rd, nil
}

// funcs are the helpers templates may call.
var funcs = template.FuncMap{
	"when": when,
	// methods says how a session was authenticated, for people.
	"methods": methodsText,
	// amr lists a session's RFC 8176 values: "pwd otp".
	"amr":     func(m session.Methods) string { return strings.Join(m.Names(), " ") },
	"timeTag": timeTag,
	// field bundles the arguments of the "field" partial.
	"field": func(v view, name, label, typ, autocomplete, hint string, autofocus bool) fieldView {
		return fieldView{Form: v.Form, Limits: v.Limits, Name: name, Label: label, Type: typ,
			Autocomplete: autocomplete, Hint: hint, Autofocus: autofocus}
	},
	// optional marks a field as one that may stay empty.
	"optional": func(f fieldView) fieldView { f.Optional = true; return f },
}

func parsePages(fsys fs.FS) (map[string]*template.Template, error) {
	shared := []string{"layouts/*.tmpl", "partials/*.tmpl"}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(fsys, append(shared, path.Join("pages", name+".tmpl"))...)
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// view is the data every page gets.
type view struct {
	Page string // page name, for the navigation's current link
	// Today is the current day (UTC midnight), for dates written
	// relative to it (timeTag).
	Today time.Time

	User     *session.Record // the signed-in session, nil when anonymous
	Flash    string
	Year     int
	Limits   limitsView
	Form     *formView
	Error    *errorView
	Sessions []session.Info // the sessions page
	Admin    *adminView     // the admin users page
	Confirm  *confirmView   // an action's confirmation page
	// TwoFactor is the second-factor pages' state (mfa.go).
	TwoFactor *twoFactorView
	Next      string // the login page: where to go after sign-in
	// NeedCurrent: the password page asks for the current password (the
	// last one entered is older than the reauthentication window).
	NeedCurrent bool
	// Mail: e-mail is on; pages show the address fields and the
	// forgot-password link.
	Mail bool
	// Email is the address page's state; Link a page reached from a
	// mailed link (email.go).
	Email *emailView
	Link  *linkView
	// DevMail is /dev/mail's (dev builds only).
	DevMail any
	// Passkeys is the passkeys page's state (passkeys.go); PasskeysOn:
	// passkeys are on, so the navigation links to that page.
	Passkeys   *passkeysView
	PasskeysOn bool
}

// limitsView gives templates the limits the code enforces, so that the
// pages' hints and input attributes cannot drift from them.
type limitsView struct {
	UsernameMin, UsernameMax int
	PasswordMin, PasswordMax int
	RememberFor              string // "30 days"
	ResetFor                 string // how long a reset link works: "30 minutes"
}

type fieldView struct {
	Form                                  *formView
	Limits                                limitsView
	Name, Label, Type, Autocomplete, Hint string
	Autofocus                             bool
	Optional                              bool // no "required" attribute
}

type errorView struct {
	Status           int
	Heading, Message string
}

// render writes page with status. It executes into a buffer first, so that a
// template error becomes a clean 500 page rather than half a page.
func (rd *renderer) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	v.Page = page
	v.Limits = rd.limits
	v.Mail = rd.mail
	v.PasskeysOn = rd.passkeys
	v.Today = day(rd.now())
	if v.Year == 0 {
		v.Year = rd.now().Year()
	}
	if v.Form == nil {
		v.Form = &formView{}
	}
	buf, err := rd.execute(page, v)
	if err != nil {
		rd.failRender(w, r, page, err)
		return
	}
	defer rd.bufs.Put(buf)
	writeHTML(w, status, buf.Bytes())
}

// execute runs page's template with data into a pooled buffer, which the
// caller puts back.
func (rd *renderer) execute(page string, data any) (*bytes.Buffer, error) {
	pages := rd.pages
	if rd.reload {
		p, err := parsePages(rd.fsys)
		if err != nil {
			return nil, err
		}
		pages = p
	}
	t, ok := pages[page]
	if !ok {
		return nil, fmt.Errorf("no page %q", page)
	}
	buf := rd.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	if err := t.ExecuteTemplate(buf, "base", data); err != nil {
		rd.bufs.Put(buf)
		return nil, fmt.Errorf("render %s: %w", page, err)
	}
	return buf, nil
}

// failRender answers a template that failed: a 500 page, or, when the error
// page itself is broken, plain text, so as not to recurse.
func (rd *renderer) failRender(w http.ResponseWriter, r *http.Request, page string, err error) {
	if page == "error" {
		rd.logger.Error("render error page", "err", err, "request_id", requestID(r))
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	rd.fail(w, r, err)
}

// writeHTML sends an HTML body.
func writeHTML(w http.ResponseWriter, status int, body []byte) {
	w.Header()["Content-Type"] = contentTypeHTML
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
