package web

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
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
// one is a logout (self). An id that cannot be a public session id is
// errNoSuchSession; one that names no live session of the user's is not an
// error, but found is false.
func revokeSession(r *http.Request, sess *sessions, index SessionIndex, audit *auditLog, id string) (self, found bool, err error) {
	u := currentUser(r)
	if !validPublicID(id) {
		return false, false, errNoSuchSession
	}
	if id == u.SID {
		audit.event(r, auditLogout, u.UserID, u.SID)
		return true, true, sess.signOut(r)
	}
	ok, err := index.Revoke(r.Context(), u.UserID, id)
	if err != nil || !ok {
		return false, false, err
	}
	audit.event(r, auditSessionRevoked, u.UserID, u.SID, slog.String("revoked_session_id", id))
	return false, true, nil
}

// handleSessionRevokePost signs out one of the user's sessions; for the
// current one, that is a logout.
func handleSessionRevokePost(rd *renderer, sess *sessions, index SessionIndex, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		self, found, err := revokeSession(r, sess, index, audit, chi.URLParam(r, "id"))
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

func handleSessionsRevokeOthersPost(rd *renderer, sess *sessions, index SessionIndex, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		u := currentUser(r)
		revoked, err := index.RevokeAll(r.Context(), u.UserID, u.SID)
		if err != nil {
			return err
		}
		for _, id := range revoked {
			audit.event(r, auditSessionRevoked, u.UserID, u.SID, slog.String("revoked_session_id", id))
		}
		msg := "All your other sessions have been signed out."
		if len(revoked) == 0 {
			msg = "There were no other sessions to sign out."
		}
		sess.flash(r, msg)
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
