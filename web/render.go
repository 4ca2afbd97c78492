package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
)

// pageNames are the pages in templates/pages, each parsed into its own set
// with the layout and partials.
var pageNames = []string{"login", "signup", "dashboard", "error", "sessions", "password", "confirm", "admin_users"}

// renderer turns page names and view data into HTML responses.
type renderer struct {
	fsys   fs.FS
	reload bool
	logger *slog.Logger
	now    func() time.Time
	pages  map[string]*template.Template
	bufs   sync.Pool
	// dashboards keeps rendered dashboards (handleDashboard).
	dashboards *pageCache[dashboardKey]
	// sessions, when set, lets error pages show who is signed in.
	sessions *sessions
}

func newRenderer(fsys fs.FS, reload bool, logger *slog.Logger, now func() time.Time) (*renderer, error) {
	r := &renderer{fsys: fsys, reload: reload, logger: logger, now: now,
		dashboards: newPageCache[dashboardKey](dashboardCacheGeneration)}
	r.bufs.New = func() any { return new(bytes.Buffer) }
	pages, err := parsePages(fsys)
	if err != nil {
		return nil, err
	}
	r.pages = pages
	return r, nil
}

// when formats a time for people, in UTC, with the zone spelt out.
func when(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2 January 2006, 15:04 MST")
}

// funcs are the helpers templates may call.
var funcs = template.FuncMap{
	"when": when,
	// field bundles the arguments of the "field" partial.
	"field": func(v view, name, label, typ, autocomplete, hint string, autofocus bool) fieldView {
		return fieldView{Form: v.Form, Name: name, Label: label, Type: typ, Autocomplete: autocomplete, Hint: hint, Autofocus: autofocus}
	},
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
	Page    string  // page name
	Current navView // which navigation link is the current page

	User      *sessionUser
	Flash     string
	Year      int
	Form      *formView
	Dashboard *dashboardView
	Error     *errorView
	Sessions  []session.Info // the sessions page
	Next      string         // the confirm page: where to return
	Admin     *adminView     // the admin users page
}

// formView is a form's state when it is shown again.
type formView struct {
	Username string            // echoed back so that people need not retype it
	Remember bool              // the login form's "remember me"
	Errors   map[string]string // field name to message
	General  string            // a message about the whole form
}

type fieldView struct {
	Form                                  *formView
	Name, Label, Type, Autocomplete, Hint string
	Autofocus                             bool
}

// navView marks the current page in the navigation. Plain booleans:
// comparing strings in the template costs a reflective call each.
type navView struct {
	Dashboard, Sessions, Password, Users, Login, Signup bool
}

// dashboardKey is everything the dashboard template reads that is not
// constant: the signed-in user, the session's facts (unformatted: the texts
// follow from them) and the year in the footer. A page with a flash
// message is not cached.
type dashboardKey struct {
	user sessionUser
	dash dashboardView
	year int
}

// dashboardCacheGeneration bounds the dashboard cache to twice this many
// pages of about 2 KB: 8 MB at most.
const dashboardCacheGeneration = 2048

type dashboardView struct {
	MemberSince, LastLogin         time.Time
	SessionStarted, SessionExpires time.Time
	// The same, formatted for people ("" for a zero LastLogin): formatting
	// here spares the template a reflective call per value.
	MemberSinceText, LastLoginText         string
	SessionStartedText, SessionExpiresText string
	IdleTimeout                            string // empty with "remember me"
	Remember                               bool
}

type errorView struct {
	Status           int
	Heading, Message string
}

// render writes page with status. It executes into a buffer first, so that a
// template error becomes a clean 500 page rather than half a page.
func (rd *renderer) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	buf, ok := rd.execute(w, r, page, v)
	if !ok {
		return
	}
	writeHTML(w, status, buf.Bytes())
	rd.bufs.Put(buf)
}

// renderCached writes page with status 200 from cache when it holds the
// page for key, and renders view(key) and keeps it otherwise: key must
// determine the page entirely (see pageCache). In development, where
// templates are re-read on each request, it always renders.
func renderCached[K comparable](rd *renderer, cache *pageCache[K], w http.ResponseWriter, r *http.Request, page string, key K, view func(K) view) {
	if rd.reload {
		rd.render(w, r, http.StatusOK, page, view(key))
		return
	}
	body, ok := cache.get(key)
	if !ok {
		buf, ok := rd.execute(w, r, page, view(key))
		if !ok {
			return
		}
		body = bytes.Clone(buf.Bytes())
		rd.bufs.Put(buf)
		cache.put(key, body)
	}
	writeHTML(w, http.StatusOK, body)
}

// execute runs page's template with v into a pooled buffer, which the
// caller puts back. On failure it has answered with an error page and
// returns false.
func (rd *renderer) execute(w http.ResponseWriter, r *http.Request, page string, v view) (*bytes.Buffer, bool) {
	pages := rd.pages
	if rd.reload {
		p, err := parsePages(rd.fsys)
		if err != nil {
			rd.serverError(w, r, err)
			return nil, false
		}
		pages = p
	}
	t, ok := pages[page]
	if !ok {
		rd.serverError(w, r, fmt.Errorf("no page %q", page))
		return nil, false
	}
	v.Page = page
	v.Current = navView{
		Dashboard: page == "dashboard", Sessions: page == "sessions", Password: page == "password",
		Users: page == "admin_users", Login: page == "login", Signup: page == "signup",
	}
	if v.Year == 0 {
		v.Year = rd.now().Year()
	}
	if v.Form == nil {
		v.Form = &formView{}
	}
	buf := rd.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	if err := t.ExecuteTemplate(buf, "base", v); err != nil {
		rd.bufs.Put(buf)
		if page == "error" {
			// Do not recurse: the error page itself is broken.
			rd.logger.Error("render error page", "err", err, "request_id", requestID(r))
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			return nil, false
		}
		rd.serverError(w, r, fmt.Errorf("render %s: %w", page, err))
		return nil, false
	}
	return buf, true
}

var contentTypeHTML = []string{"text/html; charset=utf-8"}

// writeHTML sends an HTML body. net/http adds its Content-Length when
// the body fits its 2 KB buffer and sends a longer one chunked: cheaper
// than setting the header here, since every header in the map is copied
// and sorted for each response.
func writeHTML(w http.ResponseWriter, status int, body []byte) {
	w.Header()["Content-Type"] = contentTypeHTML
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
