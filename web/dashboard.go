package web

import (
	"net/http"
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

// dashboardFor collects what the dashboard shows from the session's record.
func dashboardFor(u *session.Record, p session.Policy) dashboardView {
	d := dashboardView{
		MemberSince:    u.MemberSince,
		LastLogin:      u.LastLogin,
		SessionStarted: u.AuthAt,
		SessionExpires: p.AbsoluteEnd(u),
		Remember:       u.Remember,
	}
	if !u.Remember {
		d.IdleTimeout = humanDuration(p.IdleTimeout)
	}
	return d
}

func handleDashboard(rd *renderer, sess *sessions, policy session.Policy) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := currentUser(r)
		d := dashboardFor(u, policy)
		rd.render(w, r, http.StatusOK, "dashboard", view{User: u, Flash: sess.popFlash(r), Dashboard: &d})
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
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := currentUser(r)
		d := dashboardFor(u, policy)
		resp := response{
			Message: "Welcome " + u.Username,
			User:    userJSON{ID: u.UserID, Username: u.Username, Role: u.Role, MemberSince: d.MemberSince},
			Session: sessionJSON{AuthenticatedAt: d.SessionStarted, ExpiresAt: d.SessionExpires, Remember: d.Remember},
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
