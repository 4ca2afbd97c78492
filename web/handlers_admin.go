package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/gatehouse/gatehouse/internal/user"
)

// usersPerPage is the admin list's page size.
const usersPerPage = 20

// adminView is the admin users page.
type adminView struct {
	Filter     string
	Page       int
	Total      int64
	Rows       []adminRow
	PrevURL    string
	NextURL    string
	FirstShown int64
	LastShown  int64
}

type adminRow struct {
	User     *user.User
	Sessions int
	Self     bool
}

func handleAdminUsersGet(s *sessions, rd *renderer, users Users) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		filter := truncate(strings.TrimSpace(q.Get("q")), 64)
		page, err := strconv.Atoi(q.Get("page"))
		if err != nil || page < 1 || page > 100000 {
			page = 1
		}
		list, total, err := users.List(r.Context(), filter, page, usersPerPage)
		if err != nil {
			storageError(w, r, rd, err)
			return
		}
		me := s.current(r)
		av := &adminView{Filter: filter, Page: page, Total: total}
		ids := make([]string, len(list))
		for i, u := range list {
			ids[i] = u.ID
		}
		counts, err := s.index.Counts(r.Context(), ids)
		if err != nil {
			storageError(w, r, rd, err)
			return
		}
		for i, u := range list {
			av.Rows = append(av.Rows, adminRow{User: u, Sessions: counts[i], Self: u.ID == me.ID})
		}
		if page > 1 {
			av.PrevURL = pageURL(filter, page-1)
		}
		if int64(page*usersPerPage) < total {
			av.NextURL = pageURL(filter, page+1)
		}
		if len(list) > 0 {
			av.FirstShown = int64((page-1)*usersPerPage + 1)
			av.LastShown = av.FirstShown + int64(len(list)) - 1
		}
		rd.render(w, r, http.StatusOK, "admin_users", view{User: me, Flash: popFlash(s, r), Admin: av})
	})
}

// handleAdminUserPost runs one admin action on a user: disable, enable,
// promote, demote or revoke-sessions. Disabling and role changes also sign
// the user out everywhere at once.
func handleAdminUserPost(s *sessions, rd *renderer, users Users) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		me := s.current(r)
		id, action := chi.URLParam(r, "id"), chi.URLParam(r, "action")
		var (
			target *user.User
			err    error
			msg    string
			revoke = true
		)
		switch action {
		case "disable":
			target, err = users.SetDisabled(ctx, id, true)
			msg = "disabled and signed out everywhere"
			if err == nil {
				s.audit.event(r, auditUserDisabled, me.ID, me.SID, slogString("target_user_id", id))
			}
		case "enable":
			target, err = users.SetDisabled(ctx, id, false)
			msg, revoke = "enabled", false
			if err == nil {
				s.audit.event(r, auditUserEnabled, me.ID, me.SID, slogString("target_user_id", id))
			}
		case "promote", "demote":
			role := user.RoleAdmin
			if action == "demote" {
				role = user.RoleUser
			}
			target, err = users.SetRole(ctx, id, role)
			msg = "now has the role " + string(role) + " and was signed out everywhere"
			if err == nil {
				s.audit.event(r, auditRoleChanged, me.ID, me.SID, slogString("target_user_id", id), slogString("role", string(role)))
			}
		case "revoke-sessions":
			target, err = users.ByID(ctx, id)
			msg = "was signed out everywhere"
		default:
			rd.clientError(w, r, http.StatusNotFound)
			return
		}
		switch {
		case errors.Is(err, user.ErrNotFound):
			rd.clientError(w, r, http.StatusNotFound)
			return
		case errors.Is(err, user.ErrLastAdmin):
			s.sm.Put(ctx, keyFlash, "Gatehouse needs at least one enabled admin: promote someone else first.")
			http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
			return
		case err != nil:
			storageError(w, r, rd, err)
			return
		}
		if revoke {
			ids, err := s.index.RevokeAll(ctx, target.ID, "")
			if err != nil {
				storageError(w, r, rd, err)
				return
			}
			for _, sid := range ids {
				s.audit.event(r, auditSessionRevoked, target.ID, sid, slogString("by_user_id", me.ID), slogString("reason", action))
			}
			if target.ID == me.ID {
				// The admin changed their own account: this session is
				// gone too. Do not write it back.
				if err := s.signOut(r); err != nil {
					storageError(w, r, rd, err)
					return
				}
				http.Redirect(w, r, "/login?signed_out=1", http.StatusSeeOther)
				return
			}
		}
		s.sm.Put(ctx, keyFlash, target.Username+" "+msg+".")
		http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
	})
}
