package web

import (
	"net/http"
	"net/url"
	"strings"
)

// In production the session cookie is Secure, with the __Host- prefix
// (RFC 6265bis): a browser drops it on a plain-HTTP page at any host but
// localhost. The server has signed the person in; the browser has not
// kept the proof, and the next page is the sign-in form again, in a loop
// that explains nothing. So a sign-in whose form was not posted from an
// https page goes through /login/check, which looks for the cookie and
// explains when it did not come back.

// cookieCheckPath is the check's route.
const cookieCheckPath = "/login/check"

// afterSignInVia returns where a browser that has just been signed in
// goes: next, or, when the cookie is Secure and the form was not posted
// from an https origin, the check on the way to next.
func (s *sessions) afterSignInVia(r *http.Request, next string) string {
	if !s.sm.Cookie.Secure || postedFromHTTPS(r) {
		return next
	}
	return cookieCheckPath + "?" + url.Values{"next": {next}}.Encode()
}

// postedFromHTTPS reports whether the browser says, in Origin (RFC 6454,
// sent with every form POST by current browsers), that the form's page
// was served over https. Without Origin the check runs: it costs one
// redirect.
func postedFromHTTPS(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Origin"), "https://")
}

// handleCookieCheck sends a browser that kept the session cookie on to
// next, and explains to one that did not. Without a Secure cookie (in
// development) there is nothing to explain: the login page.
func handleCookieCheck(rd *renderer, sess *sessions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next := afterSignIn(localPath(r.URL.Query().Get("next")))
		switch {
		case currentUser(r) != nil:
			http.Redirect(w, r, next, http.StatusSeeOther)
		case !sess.sm.Cookie.Secure:
			http.Redirect(w, r, "/login", http.StatusSeeOther)
		default:
			rd.render(w, r, http.StatusOK, "cookie_refused", view{})
		}
	})
}
