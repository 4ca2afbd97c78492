package web

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

// routes lists every route of the application in one place.
func routes(d Deps, r *renderer, s *sessions) (http.Handler, error) {
	users := d.Users
	guard := newGuessGuard(d.SessionGuesses, d.SessionGuessLimit, d.Logger, d.Now)
	limiter := d.LoginLimiter

	mux := chi.NewRouter()
	// Behind trusted proxies, the client's address comes from their
	// header; otherwise clientIP reads the TCP peer when asked.
	if m := clientIPMiddleware(d.TrustedProxies, d.ClientIPHeader); m != nil {
		mux.Use(m)
	}
	mux.Use(observe(d.Logger, d.Metrics))
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
		h := noStore(loadSession(s, r, guard)(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
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

	authed := requireAuthentication(s)
	recent := func(returnTo string) func(http.Handler) http.Handler { return requireRecentAuth(s, returnTo) }
	admin := requireRole(s, r, "admin")

	// Everything else has a session and must not be cached.
	mux.Group(func(mux chi.Router) {
		mux.Use(noStore)
		mux.Use(loadSession(s, r, guard))

		// HTML pages.
		mux.Method(http.MethodGet, "/", handleHome(s))
		mux.Method(http.MethodGet, "/login", handleLoginGet(s, r))
		mux.Method(http.MethodPost, "/login", handleLoginPost(s, r, users, limiter))
		mux.Method(http.MethodGet, "/signup", handleSignupGet(s, r))
		mux.Method(http.MethodPost, "/signup", handleSignupPost(s, r, users))
		mux.Method(http.MethodPost, "/logout", handleLogoutPost(s, r))
		mux.With(authed).Method(http.MethodGet, "/dashboard", handleDashboard(s, r))

		// The signed-in user's own account.
		mux.Group(func(mux chi.Router) {
			mux.Use(authed)
			mux.Method(http.MethodGet, "/account/sessions", handleSessionsGet(s, r))
			mux.Method(http.MethodPost, "/account/sessions/{id}/revoke", handleSessionRevokePost(s, r))
			mux.With(recent("/account/sessions")).Method(http.MethodPost, "/account/sessions/revoke-others", handleSessionsRevokeOthersPost(s, r))
			mux.With(recent("/account/password")).Method(http.MethodGet, "/account/password", handlePasswordGet(s, r))
			mux.With(recent("/account/password")).Method(http.MethodPost, "/account/password", handlePasswordPost(s, r, users))
			mux.Method(http.MethodGet, "/account/confirm", handleConfirmGet(s, r))
			mux.Method(http.MethodPost, "/account/confirm", handleConfirmPost(s, r, users))
		})

		// Administration: admins only; every change needs a recent password.
		mux.Group(func(mux chi.Router) {
			mux.Use(authed, admin)
			mux.Method(http.MethodGet, "/admin/users", handleAdminUsersGet(s, r, users))
			mux.With(recent("/admin/users")).Method(http.MethodPost, "/admin/users/{id}/{action}", handleAdminUserPost(s, r, users))
		})

		// The tutorial's JSON API, on the same session cookie.
		mux.Group(func(mux chi.Router) {
			if c := corsFor(d.CORSAllowedOrigins); c != nil {
				mux.Use(c)
			}
			mux.Method(http.MethodPost, "/auth/register", handleAPIRegister(r, users))
			mux.Method(http.MethodPost, "/auth/login", handleAPILogin(s, r, users, limiter))
			mux.Method(http.MethodPost, "/auth/logout", handleAPILogout(s, r))
			mux.With(authed).Method(http.MethodGet, "/api/dashboard", handleAPIDashboard(s))
			mux.With(authed).Method(http.MethodGet, "/api/sessions", handleAPISessions(s, r))
			mux.With(authed).Method(http.MethodDelete, "/api/sessions/{id}", handleAPISessionDelete(s, r))
			mux.With(authed).Method(http.MethodPost, "/api/password", handleAPIPassword(s, r, users))
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
