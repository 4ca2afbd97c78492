package web

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
)

// The protected pages: the dashboard and its JSON twin, both drawn from
// the session's record alone (no MongoDB query).

// handleHome sends people where they can do something.
func handleHome() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if currentUser(r) != nil {
			http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
}

// dashboardView is what the dashboard shows besides the user.
type dashboardView struct {
	MemberSince, LastLogin         time.Time // LastLogin is zero at the first sign-in
	SessionStarted, SessionExpires time.Time // SessionExpires: the absolute end
	IdleTimeout                    string    // for people, "30 minutes"; empty with "remember me"
	Remember                       bool
}

// methodWords are the amr values as people read them.
var methodWords = map[string]string{
	"pwd": "password", "otp": "authenticator app code", "recovery": "recovery code", "webauthn": "passkey",
}

// methodsText says m for people: "password and authenticator app code".
func methodsText(m session.Methods) string {
	names := m.Names()
	words := make([]string, len(names))
	for i, n := range names {
		words[i] = methodWords[n]
	}
	if len(words) > 1 {
		return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
	}
	return words[0]
}

// dashboardFor collects what the dashboard shows from the session's record;
// idle is the policy's idle timeout for people ("30 minutes").
func dashboardFor(u *session.Record, p session.Policy, idle string) dashboardView {
	d := dashboardView{
		MemberSince:    u.MemberSince,
		LastLogin:      u.LastLogin,
		SessionStarted: u.AuthAt,
		SessionExpires: p.AbsoluteEnd(u),
		Remember:       u.Remember,
	}
	if !u.Remember {
		d.IdleTimeout = idle
	}
	return d
}

// dashboardPage is the dashboard template's whole input, and the key its
// rendered pages are cached under (pageCache): the template sees nothing
// else, so a cached page cannot go stale when the template changes. Plain
// values only. The layout and partials read Page, User, Flash and Year of
// it as they read them of view.
type dashboardPage struct {
	Page      string
	Today     time.Time // dates are written relative to it: the page changes daily
	User      session.Record
	Flash     string
	Year      int
	Limits    limitsView
	Mail      bool // e-mail is on: the navigation links the address page
	Dashboard dashboardView

	// PasskeysOn: passkeys are on, so the navigation links their page.
	PasskeysOn bool
}

// dashboardCacheGeneration bounds the dashboard cache to twice this many
// pages of about 2 KB: 8 MB at most.
const dashboardCacheGeneration = 2048

// handleDashboard renders the dashboard, from the cache when the same
// session has seen the same page: html/template's reflection and escaping
// are the largest cost of a page view after the Redis read. The cache buys
// about half the dashboard's throughput (make bench, 2026-11-29: 0.75
// times the floor with it, 0.51 without). A page with a one-time message
// is rendered, not kept; so is every page while templates are re-read
// from disk (make run).
func handleDashboard(rd *renderer, sess *sessions, policy session.Policy) http.Handler {
	idle := humanDuration(policy.IdleTimeout)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := currentUser(r)
		now := rd.now()
		p := dashboardPage{Page: "dashboard", Today: day(now), User: *u, Flash: sess.popFlash(r), Year: now.Year(),
			Limits: rd.limits, Mail: rd.mail, PasskeysOn: rd.passkeys, Dashboard: dashboardFor(u, policy, idle)}
		cache := p.Flash == "" && !rd.reload
		if cache {
			if body, ok := rd.dashboards.get(p); ok {
				writeHTML(w, http.StatusOK, body)
				return
			}
		}
		buf, err := rd.execute("dashboard", p)
		if err != nil {
			rd.failRender(w, r, "dashboard", err)
			return
		}
		defer rd.bufs.Put(buf)
		if cache {
			rd.dashboards.put(p, bytes.Clone(buf.Bytes()))
		}
		writeHTML(w, http.StatusOK, buf.Bytes())
	})
}

func handleAPIDashboard(policy session.Policy) http.Handler {
	type userJSON struct {
		ID          string     `json:"id"`
		Username    string     `json:"username"`
		Role        string     `json:"role"`
		MemberSince time.Time  `json:"member_since"`
		LastLogin   *time.Time `json:"previous_login_at"`
	}
	type sessionJSON struct {
		AuthenticatedAt time.Time `json:"authenticated_at"`
		ExpiresAt       time.Time `json:"expires_at"`
		IdleTimeout     string    `json:"idle_timeout,omitempty"`
		Remember        bool      `json:"remember"`
	}
	type response struct {
		Message string      `json:"message"`
		User    userJSON    `json:"user"`
		Session sessionJSON `json:"session"`
		// AMR and AAL: how this session was authenticated (RFC 8176)
		// and the assurance level it reached (NIST SP 800-63B).
		AMR []string `json:"amr"`
		AAL string   `json:"aal"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := currentUser(r)
		d := dashboardFor(u, policy, "")
		resp := response{
			Message: "Welcome " + u.Username,
			User:    userJSON{ID: u.UserID, Username: u.Username, Role: u.Role, MemberSince: d.MemberSince},
			Session: sessionJSON{AuthenticatedAt: d.SessionStarted, ExpiresAt: d.SessionExpires, Remember: d.Remember},
			AMR:     u.AMR.Names(),
			AAL:     u.AMR.AAL(),
		}
		if !d.Remember {
			resp.Session.IdleTimeout = policy.IdleTimeout.String()
		}
		if !d.LastLogin.IsZero() {
			resp.User.LastLogin = &d.LastLogin
		}
		writeJSON(w, http.StatusOK, resp)
	})
}
