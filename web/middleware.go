package web

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/cors"

	"github.com/gatehouse/gatehouse/internal/metrics"
)

// maxBodyBytes bounds every request body. Forms and JSON here are tiny.
const maxBodyBytes = 64 << 10

// requestInfo is what observe keeps about a request, in one context
// value: its number, for the request id, and what its response said.
type requestInfo struct {
	seq uint64
	w   statusWriter
}

type requestInfoKey struct{}

// requestSeq numbers requests; requestPrefix tells this process's ids
// from other instances'.
var (
	requestSeq    atomic.Uint64
	requestPrefix = newRequestPrefix()
)

// newRequestPrefix returns 8 random base32 characters.
func newRequestPrefix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return strings.ToLower(base32.StdEncoding.EncodeToString(b))
}

// requestID returns the request's id, such as "k3jq7v2a-000042", for logs.
// It is made when first asked for: a request that logs nothing (a page
// view with the access log off) never formats one. A client's own
// X-Request-Id is ignored, so ids in the logs are all ours and bounded.
func requestID(r *http.Request) string {
	info, _ := r.Context().Value(requestInfoKey{}).(*requestInfo)
	if info == nil {
		return ""
	}
	return fmt.Sprintf("%s-%06d", requestPrefix, info.seq)
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe numbers each request, counts it in the metrics, and writes one
// access-log line per request at info: id, client IP, method, route
// pattern, path, status, size and duration. It never logs headers,
// cookies or bodies. It replaces chi's RequestID and a wrapped writer:
// one context value and one allocation per request.
func observe(logger *slog.Logger, m *metrics.Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			info := &requestInfo{seq: requestSeq.Add(1), w: statusWriter{ResponseWriter: w}}
			r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
			next.ServeHTTP(&info.w, r)
			route := ""
			if rc := chi.RouteContext(r.Context()); rc != nil {
				route = rc.RoutePattern()
			}
			status := info.w.status
			if status == 0 {
				status = http.StatusOK
			}
			elapsed := time.Since(start)
			m.Request(route, r.Method, status, elapsed)
			if !logger.Enabled(r.Context(), slog.LevelInfo) {
				return
			}
			logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("request_id", requestID(r)),
				slog.String("ip", clientIP(r)),
				slog.String("method", truncate(r.Method, 16)),
				slog.String("route", route),
				slog.String("path", truncate(r.URL.Path, 200)),
				slog.Int("status", status),
				slog.Int("bytes", info.w.bytes),
				slog.Duration("duration", elapsed),
			)
		})
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// recoverPanics turns a panic into a logged error and a 500 page, never a
// stack trace in the response.
func recoverPanics(rd *renderer) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					rd.logger.Error("panic", "value", fmt.Sprint(v), "stack", string(debug.Stack()), "request_id", requestID(r))
					rd.answer(w, r, problemFor(errPanic))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// contentSecurityPolicy allows this origin's stylesheet, images and one
// script file (static/js/passkey.js, which calls this origin's /webauthn
// endpoints: connect-src) and nothing else: no inline script or style,
// no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// baseHeaders are the OWASP-recommended response headers, built once. A
// request copies their one-element slices into its header map rather than
// calling Set for each, which allocates a slice and canonicalises the key
// every time: ten of a page view's 45 allocations.
var baseHeaders = http.Header{
	"Content-Security-Policy":      {contentSecurityPolicy},
	"X-Content-Type-Options":       {"nosniff"},
	"X-Frame-Options":              {"DENY"},
	"Referrer-Policy":              {"same-origin"},
	"Cross-Origin-Opener-Policy":   {"same-origin"},
	"Cross-Origin-Resource-Policy": {"same-origin"},
	"Permissions-Policy":           {"camera=(), microphone=(), geolocation=(), interest-cohort=()"},
}

// hsts, cacheNoStore and contentTypeHTML are shared the same way.
var (
	hsts            = []string{"max-age=63072000; includeSubDomains"}
	cacheNoStore    = []string{"no-store"}
	contentTypeHTML = []string{"text/html; charset=utf-8"}
)

// securityHeaders sets baseHeaders, and HSTS in production. The slices are
// shared: a later Set or Add on these keys replaces them, never changes
// them.
func securityHeaders(production bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			for k, v := range baseHeaders {
				h[k] = v
			}
			if production {
				h["Strict-Transport-Security"] = hsts
			}
			next.ServeHTTP(w, r)
		})
	}
}

// noStore keeps pages with personal data and forms out of every cache,
// including the browser's back/forward history.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Cache-Control"] = cacheNoStore
		next.ServeHTTP(w, r)
	})
}

// limitBody answers 413 to a declared oversized body at once, and caps the
// rest so that reading past the limit fails.
func limitBody(n int64, rd *renderer) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				w.Header().Set("Connection", "close")
				rd.fail(w, r, &http.MaxBytesError{Limit: n})
				return
			}
			if r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, n)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// crossOriginProtection refuses cross-origin unsafe requests (CSRF) with
// net/http's CrossOriginProtection, which checks Sec-Fetch-Site and Origin.
// The origins allowed to use the JSON API through CORS are trusted on the
// API only (/api/, /auth/), never on the HTML forms or admin actions.
//
// Before it, an unsafe request whose Origin is not a serialised origin is
// refused: Go's check compares only the host of whatever URL the header
// holds, so "http://evil.example@HOST" (user info), an origin with a path,
// or a scheme other than http and https would pass as same-origin.
func crossOriginProtection(trusted []string, rd *renderer) (func(http.Handler) http.Handler, error) {
	deny := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rd.logger.Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path,
			"sec_fetch_site", truncate(r.Header.Get("Sec-Fetch-Site"), 32), "origin", truncate(originHost(r), 100), "request_id", requestID(r))
		rd.answer(w, r, problemFor(errCrossOrigin))
	})
	pages, api := http.NewCrossOriginProtection(), http.NewCrossOriginProtection()
	pages.SetDenyHandler(deny)
	api.SetDenyHandler(deny)
	for _, o := range trusted {
		if err := api.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("CORS_ALLOWED_ORIGINS: %w", err)
		}
	}
	return func(next http.Handler) http.Handler {
		protectedPages, protectedAPI := pages.Handler(next), api.Handler(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
			default:
				if o := r.Header.Values("Origin"); len(o) > 1 || len(o) == 1 && !serialisedOrigin(o[0]) {
					rd.logger.Warn("request with a malformed Origin refused", "method", r.Method, "path", truncate(r.URL.Path, 200),
						"origin", truncate(strings.Join(o, ", "), 100), "request_id", requestID(r))
					rd.answer(w, r, problemFor(errCrossOrigin))
					return
				}
			}
			if wantsJSON(r) {
				protectedAPI.ServeHTTP(w, r)
				return
			}
			protectedPages.ServeHTTP(w, r)
		})
	}, nil
}

// serialisedOrigin reports whether o is what a browser sends in Origin
// (RFC 6454 section 6.2): "null", or the scheme "http" or "https", "://"
// and a host with an optional port, in lower case, and nothing else.
func serialisedOrigin(o string) bool {
	if o == "null" {
		return true // an opaque origin: CrossOriginProtection refuses it
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	return o == u.Scheme+"://"+strings.ToLower(u.Host) && u.User == nil
}

func originHost(r *http.Request) string {
	u, err := url.Parse(r.Header.Get("Origin"))
	if err != nil {
		return "(unparsable)"
	}
	return u.Host
}

// corsFor lets the listed origins call the JSON API with credentials, or
// returns nil when there are none.
func corsFor(origins []string) func(http.Handler) http.Handler {
	if len(origins) == 0 {
		return nil
	}
	return cors.Handler(cors.Options{
		AllowedOrigins:   origins,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodDelete},
		AllowedHeaders:   []string{"Content-Type"},
		AllowCredentials: true,
		MaxAge:           600,
	})
}

// requireAuthentication sends anonymous visitors to the login page, or
// answers 401 on the API. A page they asked for (with GET) comes back
// after sign-in (?next=), and a session that just ended says why (?why=).
func requireAuthentication(rd *renderer) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if currentUser(r) == nil {
				if wantsJSON(r) {
					rd.fail(w, r, errUnauthorized)
					return
				}
				http.Redirect(w, r, loginURL(r), http.StatusSeeOther)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// loginURL is the login page for an anonymous request: with ?next= for a
// page asked for with GET other than the default one, and ?why= when the
// request's session has just ended.
func loginURL(r *http.Request) string {
	q := url.Values{}
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Path != "/dashboard" {
		if p := localPath(r.URL.RequestURI()); p != "" {
			q.Set("next", p)
		}
	}
	if l := loadedFrom(r.Context()); l != nil && l.ended != "" {
		q.Set("why", l.ended)
	}
	if len(q) == 0 {
		return "/login"
	}
	return "/login?" + q.Encode()
}

// localPath returns next when it is a path on this site, and "" otherwise,
// so that ?next= is no open redirect: one leading slash and not two, no
// backslash (which browsers read as a slash), no scheme or host, no control
// character (a tab or newline that a browser would drop), at most 512
// bytes.
func localPath(next string) string {
	if len(next) == 0 || len(next) > 512 || next[0] != '/' {
		return ""
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c < 0x20 || c == 0x7f || c == '\\' || i == 1 && c == '/' {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	return next
}

// requireRole answers 403 (a friendly page, or JSON on the API) to signed-in
// users without role.
func requireRole(rd *renderer, role string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u := currentUser(r); u == nil || u.Role != role {
				rd.fail(w, r, errNotAdmin)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
