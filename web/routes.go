package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// routes lists every route of the application in one place. Each handler
// maker takes exactly what it uses.
func routes(d Deps, rd *renderer, sess *sessions, audit *auditLog, guard *tokenGuessGuard, signups signupLimit, limits passwordLimits) (http.Handler, error) {
	users, index, policy := d.Users, d.SessionIndex, d.Policy
	f := sess.factors

	mux := chi.NewRouter()
	// Behind trusted proxies, the client's address comes from their
	// header; otherwise clientIP reads the TCP peer when asked.
	if m := clientIPMiddleware(d.TrustedProxies, d.ClientIPHeader); m != nil {
		mux.Use(m)
	}
	mux.Use(observe(d.Logger, d.Metrics))
	// RFC 9110: every GET route answers HEAD (net/http drops the body).
	mux.Use(middleware.GetHead)
	mux.Use(recoverPanics(rd))
	mux.Use(securityHeaders(d.Production))
	mux.Use(limitBody(maxBodyBytes, rd))
	csrf, err := crossOriginProtection(d.CORSAllowedOrigins, rd)
	if err != nil {
		return nil, err
	}
	mux.Use(csrf)

	// The e-mail flows, when e-mail is on; mail is nil-safe.
	accounts := d.Accounts
	var mail *mailer
	if accounts != nil {
		mail = &mailer{accounts: accounts, logger: d.Logger}
	}

	// Signing in and up is never refused for token guessing: their own
	// limiter guards them, and a stale cookie must not keep its owner out.
	// Nor is recovering a forgotten password.
	session := loadSession(sess, users, guard, rd, "/login", "/signup", "/auth/login", "/auth/register", "/login/2fa", "/auth/login/2fa",
		"/webauthn/login/begin", "/webauthn/login/finish", "/webauthn/2fa/begin", "/webauthn/2fa/finish",
		"/password/forgot", "/password/reset", "/api/password/forgot", "/api/password/reset")

	// Error pages load the session so that the navigation shows who is
	// signed in. A 405 lists the route's methods in Allow (RFC 9110).
	mux.NotFound(noStore(session(rd.handle(func(http.ResponseWriter, *http.Request) error { return errNotFound }))).ServeHTTP)
	mux.MethodNotAllowed(noStore(session(rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		setAllow(w, r)
		return errMethodNotAllowed
	}))).ServeHTTP)

	// Dependency-free routes: no session, no cache headers.
	mux.Method(http.MethodGet, "/healthz", handleHealthz())
	mux.Method(http.MethodGet, "/readyz", handleReadyz(d.Checks, d.Logger))
	mux.Handle("/static/*", http.StripPrefix("/static/", handleStatic(rd, d.Static)))

	authed := requireAuthentication(rd)
	admin := requireRole(rd, "admin")

	// Everything else has a session and must not be cached.
	mux.Group(func(mux chi.Router) {
		mux.Use(noStore)
		mux.Use(session)
		// Roles that must have two factors see nothing else until then.
		mux.Use(require2FA(rd, f))

		// HTML pages.
		mux.Method(http.MethodGet, "/", handleHome())
		mux.Method(http.MethodGet, "/login", handleLoginGet(rd, sess))
		mux.Method(http.MethodPost, "/login", handleLoginPost(rd, sess, users, limits, audit, mail))
		mux.Method(http.MethodGet, cookieCheckPath, handleCookieCheck(rd, sess))
		mux.Method(http.MethodGet, "/signup", handleSignupGet(rd))
		mux.Method(http.MethodPost, "/signup", handleSignupPost(rd, sess, users, accounts, signups, limits.devices, audit))
		mux.Method(http.MethodPost, "/logout", handleLogoutPost(rd, sess, audit))
		mux.Method(http.MethodGet, "/login/2fa", handleLogin2FAGet(rd, sess, f))
		mux.Method(http.MethodPost, "/login/2fa", handleLogin2FAPost(rd, sess, users, f, limits, audit, mail))
		mux.With(authed).Method(http.MethodGet, "/dashboard", handleDashboard(rd, sess, policy))

		// E-mail: forgotten passwords and the pages mailed links open,
		// signed in or not. Each link's page shows a form; only its POST
		// uses the token.
		if accounts != nil {
			mux.Method(http.MethodGet, "/password/forgot", handleForgotGet(rd))
			mux.Method(http.MethodPost, "/password/forgot", handleForgotPost(rd, accounts, limits, audit))
			mux.Method(http.MethodGet, "/password/reset", handleResetGet(rd, accounts))
			mux.Method(http.MethodPost, "/password/reset", handleResetPost(rd, sess, accounts, index, limits.devices, audit, mail))
			mux.Method(http.MethodGet, "/email/verify", handleVerifyGet(rd, accounts))
			mux.Method(http.MethodPost, "/email/verify", handleVerifyPost(rd, accounts, audit))
			mux.Method(http.MethodGet, "/account/not-me", handleNotMeGet(rd, sess, accounts))
			mux.Method(http.MethodPost, "/account/not-me", handleNotMePost(rd, sess, accounts, index, audit))
		}
		if d.DevMailbox != nil {
			devMailRoutes(mux, rd, d.DevMailbox)
		}

		// The signed-in user's own account.
		mux.Group(func(mux chi.Router) {
			mux.Use(authed)
			mux.Method(http.MethodGet, "/account/sessions", handleSessionsGet(rd, sess, index))
			mux.Method(http.MethodPost, "/account/sessions/{id}/revoke", handleSessionRevokePost(rd, sess, users, limits, index, audit))
			mux.Method(http.MethodGet, "/account/sessions/revoke-others", handleSessionsRevokeOthersGet(rd, sess, index))
			mux.Method(http.MethodPost, "/account/sessions/revoke-others", handleSessionsRevokeOthersPost(rd, sess, users, limits, index, audit, mail))
			mux.Method(http.MethodGet, "/account/password", handlePasswordGet(rd, sess))
			mux.Method(http.MethodPost, "/account/password", handlePasswordPost(rd, sess, users, limits, index, audit, mail))
			// The authenticator app: enrolment, recovery codes, turning
			// it off; every change needs recent authentication.
			mux.Method(http.MethodGet, "/account/2fa", handleTwoFactorGet(rd, sess, f))
			mux.Method(http.MethodPost, "/account/2fa", handleTwoFactorPost(rd, sess, users, f, limits, audit, mail))
			mux.Method(http.MethodPost, "/account/2fa/start", handleTwoFactorStartPost(rd, sess, users, f, limits, audit))
			mux.Method(http.MethodGet, "/account/2fa/setup", handleTwoFactorSetupGet(rd, sess, f))
			mux.Method(http.MethodGet, "/account/2fa/qr.png", handleTwoFactorQR(rd, sess, f))
			for action := range twoFactorActions {
				mux.Method(http.MethodGet, "/account/2fa/"+action, handleTwoFactorActionGet(rd, sess, action))
				mux.Method(http.MethodPost, "/account/2fa/"+action, handleTwoFactorActionPost(rd, sess, users, f, limits, audit, mail, action))
			}
			if accounts != nil {
				mux.Method(http.MethodGet, "/account/email", handleEmailGet(rd, sess, users))
				mux.Method(http.MethodPost, "/account/email", handleEmailPost(rd, sess, users, accounts, limits, audit))
			}
		})

		// Passkeys: the page, and the WebAuthn ceremonies' JSON (passkeys.go).
		if pk := d.Passkeys; pk != nil {
			mux.Method(http.MethodPost, "/webauthn/login/begin", handlePasskeyLoginBegin(rd, pk, d.PasskeyBegins, d.IPv6Prefix))
			mux.Method(http.MethodPost, "/webauthn/login/finish", handlePasskeyLoginFinish(rd, sess, users, pk, limits, audit, mail))
			mux.Method(http.MethodPost, "/webauthn/2fa/begin", handlePasskey2FABegin(rd, pk))
			mux.Method(http.MethodPost, "/webauthn/2fa/finish", handlePasskey2FAFinish(rd, sess, users, pk, limits, audit, mail))
			mux.Group(func(mux chi.Router) {
				mux.Use(authed)
				mux.Method(http.MethodGet, "/account/passkeys", handlePasskeysGet(rd, sess, pk))
				mux.Method(http.MethodGet, "/account/passkeys/add", handlePasskeyAddGet(rd, sess))
				mux.Method(http.MethodPost, "/account/passkeys/add", handlePasskeyAddPost(rd, sess, users, limits, audit))
				mux.Method(http.MethodGet, "/account/passkeys/{id}/remove", handlePasskeyRemoveGet(rd, sess, pk))
				mux.Method(http.MethodPost, "/account/passkeys/{id}/remove", handlePasskeyRemovePost(rd, sess, users, limits, pk, audit, mail))
				mux.Method(http.MethodPost, "/webauthn/register/begin", handlePasskeyRegisterBegin(rd, sess, pk))
				mux.Method(http.MethodPost, "/webauthn/register/finish", handlePasskeyRegisterFinish(rd, sess, pk, audit, mail))
				mux.Method(http.MethodPost, "/webauthn/reauth/begin", handlePasskeyReauthBegin(rd, pk))
				mux.Method(http.MethodPost, "/webauthn/reauth/finish", handlePasskeyReauthFinish(rd, sess, pk, limits, audit))
			})
		}

		// Administration: admins only; every change needs a recent password,
		// asked on the change's confirmation page when it is older.
		mux.Group(func(mux chi.Router) {
			mux.Use(authed, admin)
			mux.Method(http.MethodGet, "/admin/users", handleAdminUsersGet(rd, sess, users, index))
			mux.Method(http.MethodGet, "/admin/users/{id}/{action}", handleAdminUserGet(rd, sess, users))
			mux.Method(http.MethodPost, "/admin/users/{id}/{action}", handleAdminUserPost(rd, sess, users, limits, index, audit, mail))
		})

		// The tutorial's JSON API, on the same session cookie. Each
		// handler shares its domain call with the page above it.
		mux.Group(func(mux chi.Router) {
			if c := corsFor(d.CORSAllowedOrigins); c != nil {
				mux.Use(c)
			}
			mux.Method(http.MethodPost, "/auth/register", handleAPIRegister(rd, users, accounts, signups))
			mux.Method(http.MethodPost, "/auth/login", handleAPILogin(rd, sess, users, limits, audit, mail))
			mux.Method(http.MethodPost, "/auth/login/2fa", handleAPILogin2FA(rd, sess, users, f, limits, audit, mail))
			if accounts != nil {
				mux.Method(http.MethodPost, "/api/password/forgot", handleAPIForgot(rd, accounts, limits, audit))
				mux.Method(http.MethodPost, "/api/password/reset", handleAPIReset(rd, sess, accounts, index, limits.devices, audit, mail))
			}
			mux.Method(http.MethodPost, "/auth/logout", handleAPILogout(rd, sess, audit))
			mux.With(authed).Method(http.MethodGet, "/api/dashboard", handleAPIDashboard(policy))
			mux.With(authed).Method(http.MethodGet, "/api/sessions", handleAPISessions(rd, index))
			mux.With(authed).Method(http.MethodDelete, "/api/sessions/{id}", handleAPISessionDelete(rd, sess, index, audit))
			mux.With(authed).Method(http.MethodPost, "/api/password", handleAPIPassword(rd, sess, users, limits, index, audit, mail))
			// Let CORS answer preflights on the API.
			mux.Options("/auth/*", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
			mux.Options("/api/*", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
		})
	})
	return mux, nil
}

// setAllow lists in Allow the methods the request's path is routed for.
func setAllow(w http.ResponseWriter, r *http.Request) {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil {
		return
	}
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		path := r.URL.RawPath
		if path == "" {
			path = r.URL.Path
		}
		if rctx.Routes.Match(chi.NewRouteContext(), m, path) || m == http.MethodHead && slices.Contains(allowed, http.MethodGet) {
			allowed = append(allowed, m)
		}
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
}

// wantsJSON tells API requests, answered in JSON, from page requests.
func wantsJSON(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/auth/") || p == "/api" || p == "/auth" ||
		strings.HasPrefix(p, "/webauthn/")
}
