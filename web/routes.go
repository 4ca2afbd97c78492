package web

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// routes lists every route of the application in one place.
func routes(d Deps, r *renderer) (http.Handler, error) {
	sm := d.Sessions
	users := d.Users

	guard := newGuessGuard(d.SessionGuesses, d.SessionGuessLimit, d.Logger, d.Now)
	limiter := d.LoginLimiter

	mux := chi.NewRouter()
	mux.Use(middleware.RequestID)
	mux.Use(clientIPMiddleware(d.TrustedProxies, d.ClientIPHeader))
	mux.Use(accessLog(d.Logger))
	mux.Use(recoverPanics(r))
	mux.Use(securityHeaders(d.Production))
	mux.Use(limitBody(maxBodyBytes, r))
	csrf, err := crossOriginProtection(d.CORSAllowedOrigins, r)
	if err != nil {
		return nil, err
	}
	mux.Use(csrf)

	// Error pages load the session so that the navigation shows who is
	// signed in.
	withSession := func(status int) http.HandlerFunc {
		h := noStore(loadSession(sm, r, guard)(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			r.clientError(w, req, status)
		})))
		return h.ServeHTTP
	}
	mux.NotFound(withSession(http.StatusNotFound))
	mux.MethodNotAllowed(withSession(http.StatusMethodNotAllowed))

	// Dependency-free routes: no session, no cache headers.
	mux.Method(http.MethodGet, "/healthz", handleHealthz())
	mux.Method(http.MethodGet, "/readyz", handleReadyz(d.Checks, d.Logger))
	mux.Handle("/static/*", http.StripPrefix("/static/", handleStatic(d.Static)))

	// Everything else has a session and must not be cached.
	mux.Group(func(mux chi.Router) {
		mux.Use(noStore)
		mux.Use(loadSession(sm, r, guard))

		// HTML pages.
		mux.Method(http.MethodGet, "/", handleHome(sm))
		mux.Method(http.MethodGet, "/login", handleLoginGet(sm, r))
		mux.Method(http.MethodPost, "/login", handleLoginPost(sm, r, users, limiter, d.Now))
		mux.Method(http.MethodGet, "/signup", handleSignupGet(sm, r))
		mux.Method(http.MethodPost, "/signup", handleSignupPost(sm, r, users, d.Now))
		mux.Method(http.MethodPost, "/logout", handleLogoutPost(sm, r))
		mux.With(requireAuthentication(sm)).Method(http.MethodGet, "/dashboard", handleDashboard(sm, r))

		// The tutorial's JSON API, on the same session cookie.
		mux.Group(func(mux chi.Router) {
			if c := corsFor(d.CORSAllowedOrigins); c != nil {
				mux.Use(c)
			}
			mux.Method(http.MethodPost, "/auth/register", handleAPIRegister(r, users))
			mux.Method(http.MethodPost, "/auth/login", handleAPILogin(sm, r, users, limiter, d.Now))
			mux.Method(http.MethodPost, "/auth/logout", handleAPILogout(sm, r))
			mux.With(requireAuthentication(sm)).Method(http.MethodGet, "/api/dashboard", handleAPIDashboard(sm, r))
			// Let CORS answer preflights on the API.
			mux.Options("/auth/*", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
			mux.Options("/api/*", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
		})
	})
	return mux, nil
}

// wantsJSON tells API requests, answered in JSON, from page requests.
func wantsJSON(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/auth/") || p == "/api" || p == "/auth"
}
