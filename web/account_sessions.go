package web

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/session"
)

// The signed-in user's sessions: the sessions page and GET /api/sessions
// list them from the index; revoking one, from the page or with
// DELETE /api/sessions/{id}, goes through revokeSession.

func handleSessionsGet(rd *renderer, sess *sessions, index SessionIndex) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		u := currentUser(r)
		list, err := index.List(r.Context(), u.UserID)
		if err != nil {
			return err
		}
		rd.render(w, r, http.StatusOK, "sessions", view{User: u, Flash: sess.popFlash(r), Sessions: list})
		return nil
	})
}

// revokeSession ends the signed-in user's session id. Ending the current
// one is a logout (self). Ending another needs a recent password, as
// ending all the others does: errReauthRequired. An id that cannot be a
// public session id is errNoSuchSession; one that names no live session of
// the user's is not an error, but found is false.
func revokeSession(r *http.Request, sess *sessions, index SessionIndex, audit *auditLog, id string) (self, found bool, err error) {
	u := currentUser(r)
	if !validPublicID(id) {
		return false, false, errNoSuchSession
	}
	if id == u.SID {
		audit.event(r, auditLogout, u.UserID, u.SID)
		return true, true, sess.signOut(r)
	}
	if !sess.recentlyAuthenticated(r) {
		return false, false, errReauthRequired
	}
	ok, err := index.Revoke(r.Context(), u.UserID, id)
	if err != nil || !ok {
		return false, false, err
	}
	audit.event(r, auditSessionRevoked, u.UserID, id, slog.String("by_session_id", u.SID))
	return false, true, nil
}

// revokeAll ends every session of userID but keep ("" for none) in Redis
// at once, for the reason why (which their next request tells the person),
// with an audit line each (attrs say by whom and why). It is the
// fast path: the caller has replaced the user's security stamp, which ends
// those sessions at their next touch anyway. A failure is logged, and now
// is false.
func revokeAll(r *http.Request, index SessionIndex, audit *auditLog, userID, keep string, why session.EndReason, attrs ...slog.Attr) (now bool) {
	ids, err := index.RevokeAll(r.Context(), userID, keep, why)
	if err != nil {
		audit.warn(r, "could not revoke sessions now; they end at their next touch", err)
		return false
	}
	for _, id := range ids {
		audit.event(r, auditSessionRevoked, userID, id, attrs...)
	}
	return true
}

// handleSessionRevokePost signs out one of the user's sessions; for the
// current one, that is a logout. Signing out another needs a recent
// password: without one, the confirmation page asks for it and then does.
func handleSessionRevokePost(rd *renderer, sess *sessions, users Users, limits passwordLimits, index SessionIndex, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		id := chi.URLParam(r, "id")
		if u := currentUser(r); id != u.SID && validPublicID(id) {
			c := confirmView{Title: "Sign out that session?", Explain: "It ends at once, on whatever device it is.",
				Verb: "sign out that session", Button: "Sign out that session", Danger: true,
				Action: "/account/sessions/" + id + "/revoke", Cancel: "/account/sessions"}
			if list, err := index.List(r.Context(), u.UserID); err == nil {
				for _, x := range list {
					if x.ID == id {
						c.Title = "Sign out " + x.Device + "?"
						c.Explain = "The session of " + x.Device + " (" + x.IP + "), signed in " + when(x.Created) + ", ends at once."
					}
				}
			}
			if ok, err := recentOrPassword(w, r, rd, sess, users, limits, audit, c); !ok {
				return err
			}
		}
		self, found, err := revokeSession(r, sess, index, audit, id)
		switch {
		case err != nil:
			return err
		case self:
			http.Redirect(w, r, "/login?signed_out=1", http.StatusSeeOther)
			return nil
		case found:
			sess.flash(r, "That session has been signed out.")
		default:
			sess.flash(r, "That session had already ended.")
		}
		http.Redirect(w, r, "/account/sessions", http.StatusSeeOther)
		return nil
	})
}

func handleAPISessionDelete(rd *renderer, sess *sessions, index SessionIndex, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		_, found, err := revokeSession(r, sess, index, audit, chi.URLParam(r, "id"))
		if err == nil && !found {
			err = errNoSuchSession
		}
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// revokeOthers is the confirmation page of "Sign out all other sessions".
func revokeOthers(others int) confirmView {
	explain := "Every other device signed in to your account is signed out at once. This one stays signed in."
	if others == 1 {
		explain = "The one other device signed in to your account is signed out at once. This one stays signed in."
	} else if others > 1 {
		explain = "The " + strconv.Itoa(others) + " other devices signed in to your account are signed out at once. This one stays signed in."
	}
	return confirmView{Title: "Sign out all your other sessions?", Explain: explain, Verb: "sign out all your other sessions",
		Button: "Sign out all other sessions", Danger: true, Action: "/account/sessions/revoke-others", Cancel: "/account/sessions"}
}

// othersOf counts the user's sessions other than this one; 0 when the
// index cannot say.
func othersOf(r *http.Request, index SessionIndex) int {
	u := currentUser(r)
	list, err := index.List(r.Context(), u.UserID)
	if err != nil {
		return 0
	}
	n := 0
	for _, x := range list {
		if x.ID != u.SID {
			n++
		}
	}
	return n
}

func handleSessionsRevokeOthersGet(rd *renderer, sess *sessions, index SessionIndex) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		showConfirm(w, r, rd, sess, revokeOthers(othersOf(r, index)), nil, http.StatusOK)
	})
}

// handleSessionsRevokeOthersPost signs out every other session of the
// user: a new security stamp, kept by this session only, and revocation in
// Redis at once. It needs a recent password, asked on its confirmation
// page when it is older.
func handleSessionsRevokeOthersPost(rd *renderer, sess *sessions, users Users, limits passwordLimits, index SessionIndex, audit *auditLog, mail *mailer) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		others := othersOf(r, index)
		if ok, err := recentOrPassword(w, r, rd, sess, users, limits, audit, revokeOthers(others)); !ok {
			return err
		}
		u := currentUser(r)
		fresh, err := users.SignOutEverywhere(r.Context(), u.UserID)
		if err != nil {
			return err
		}
		sess.restamp(r, fresh.SecurityStamp)
		now := revokeAll(r, index, audit, u.UserID, u.SID, session.EndedElsewhere, slog.String("by_session_id", u.SID))
		mail.notify(r, account.KindSessionsRevoked, u.UserID, map[string]string{"device": session.Device(r.UserAgent())})
		switch {
		case !now:
			sess.flash(r, "Your other sessions will be signed out within "+sess.touchWithin()+".")
		case others == 0:
			sess.flash(r, "There were no other sessions to sign out.")
		default:
			sess.flash(r, "All your other sessions have been signed out.")
		}
		http.Redirect(w, r, "/account/sessions", http.StatusSeeOther)
		return nil
	})
}

// sessionJSON is one session in GET /api/sessions.
type sessionJSON struct {
	ID              string    `json:"id"`
	Current         bool      `json:"current"`
	CreatedAt       time.Time `json:"created_at"`
	AuthenticatedAt time.Time `json:"authenticated_at"`
	LastSeenAt      time.Time `json:"last_seen_at"`
	IP              string    `json:"ip"`
	Device          string    `json:"device"`
	Remember        bool      `json:"remember"`
}

func handleAPISessions(rd *renderer, index SessionIndex) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		u := currentUser(r)
		list, err := index.List(r.Context(), u.UserID)
		if err != nil {
			return err
		}
		out := make([]sessionJSON, 0, len(list))
		for _, x := range list {
			out = append(out, sessionJSON{ID: x.ID, Current: x.ID == u.SID, CreatedAt: x.Created, AuthenticatedAt: x.AuthAt,
				LastSeenAt: x.LastSeen, IP: x.IP, Device: x.Device, Remember: x.Remember})
		}
		writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
		return nil
	})
}
