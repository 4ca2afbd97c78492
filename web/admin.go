package web

// Administration: the users list and the actions on one user. Admins only
// (requireRole), and every change needs a recent password.

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/session"
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

func handleAdminUsersGet(rd *renderer, sess *sessions, users Users, index SessionIndex) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		filter := truncate(strings.TrimSpace(q.Get("q")), 64)
		page, err := strconv.Atoi(q.Get("page"))
		if err != nil || page < 1 || page > 100000 {
			page = 1
		}
		list, total, err := users.List(r.Context(), filter, page, usersPerPage)
		if err != nil {
			return err
		}
		me := currentUser(r)
		av := &adminView{Filter: filter, Page: page, Total: total}
		ids := make([]string, len(list))
		for i, u := range list {
			ids[i] = u.ID
		}
		counts, err := index.Counts(r.Context(), ids)
		if err != nil {
			return err
		}
		for i, u := range list {
			av.Rows = append(av.Rows, adminRow{User: u, Sessions: counts[i], Self: u.ID == me.UserID})
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
		rd.render(w, r, http.StatusOK, "admin_users", view{User: me, Flash: sess.popFlash(r), Admin: av})
		return nil
	})
}

// adminActions are the actions on one user, with their confirmation pages;
// "%s" is the user's name.
var adminActions = map[string]struct {
	title, explain, verb, button string
	danger                       bool
}{
	"disable": {"Disable %s?", "%s is signed out everywhere at once, and cannot sign in again until an admin enables the account.",
		"disable %s", "Disable %s", true},
	"enable": {"Enable %s?", "%s can sign in again.", "enable %s", "Enable %s", false},
	"promote": {"Make %s an admin?", "%s will be able to see every user, disable and enable them, change their roles and sign them out. %s is signed out everywhere now, and signs in again as an admin.",
		"make %s an admin", "Make %s an admin", false},
	"demote": {"Make %s a user?", "%s loses access to the Users page, and is signed out everywhere now.",
		"make %s a user", "Make %s a user", false},
	"reset-2fa": {"Reset the two-step sign-in of %s?", "The authenticator app, the recovery codes and the passkeys of %s are removed, and %s is told by mail. %s then signs in with the password alone, and can set up new ones. Do this only once you are sure it is %s who asks, for example when their phone is lost.",
		"reset the two-step sign-in of %s", "Reset two-step sign-in", true},
	"revoke-sessions": {"Sign %s out everywhere?", "Every session of %s, on every device, ends at once. %s can sign in again.",
		"sign %s out everywhere", "Sign %s out everywhere", true},
}

// adminConfirm is the confirmation page of action on target.
func adminConfirm(action string, target *user.User) confirmView {
	a := adminActions[action]
	name := target.Username
	fill := func(f string) string { return strings.ReplaceAll(f, "%s", name) }
	return confirmView{Title: fill(a.title), Explain: fill(a.explain), Verb: fill(a.verb), Button: fill(a.button),
		Danger: a.danger, Action: "/admin/users/" + target.ID + "/" + action, Cancel: "/admin/users"}
}

// handleAdminUserGet shows an admin action's confirmation page: what will
// happen, and the password when the last one is older than the window.
func handleAdminUserGet(rd *renderer, sess *sessions, users Users) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		action := chi.URLParam(r, "action")
		if _, ok := adminActions[action]; !ok {
			return errNotFound
		}
		target, err := users.ByID(r.Context(), chi.URLParam(r, "id"))
		if err != nil {
			return err
		}
		showConfirm(w, r, rd, sess, adminConfirm(action, target), nil, http.StatusOK)
		return nil
	})
}

// handleAdminUserPost runs one admin action on a user: disable, enable,
// promote, demote or revoke-sessions. Disabling and role changes also sign
// the user out everywhere at once. Every action needs a recent password:
// when it is older, the action's confirmation page asks for it, and then
// runs the action.
func handleAdminUserPost(rd *renderer, sess *sessions, users Users, limits passwordLimits, index SessionIndex, audit *auditLog, mail *mailer) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		me := currentUser(r)
		id, action := chi.URLParam(r, "id"), chi.URLParam(r, "action")
		if _, ok := adminActions[action]; !ok {
			return errNotFound
		}
		if err := parseForm(r); err != nil {
			return err
		}
		if !sess.recentlyAuthenticated(r) {
			target, err := users.ByID(ctx, id)
			if err != nil {
				return err
			}
			if ok, err := recentOrPassword(w, r, rd, sess, users, limits, audit, adminConfirm(action, target)); !ok {
				return err
			}
		}
		var (
			target  *user.User
			err     error
			changed string // what happened, after the username; "" for revoke-sessions
			event   string
			attrs   []slog.Attr
			revoke  = true
		)
		switch action {
		case "disable":
			target, err = users.SetDisabled(ctx, id, true)
			changed, event = "was disabled", auditUserDisabled
		case "enable":
			target, err = users.SetDisabled(ctx, id, false)
			changed, event, revoke = "was enabled", auditUserEnabled, false
		case "promote", "demote":
			role := user.RoleAdmin
			if action == "demote" {
				role = user.RoleUser
			}
			target, err = users.SetRole(ctx, id, role)
			changed, event = "now has the role "+string(role), auditRoleChanged
			attrs = []slog.Attr{slog.String("role", string(role))}
		case "revoke-sessions":
			target, err = users.SignOutEverywhere(ctx, id)
		case "reset-2fa":
			if target, err = users.ByID(ctx, id); err == nil {
				err = resetFactors(ctx, sess.factors, id)
			}
			changed, event, revoke = "had their two-step sign-in reset", auditSecondFactorsReset, false
			if err == nil {
				mail.notifyFactor(r, id, "removed", "authenticator app and passkeys, reset by an administrator")
			}
		default:
			return errNotFound
		}
		if errors.Is(err, user.ErrLastAdmin) {
			// Not an error page: the list, with why nothing changed.
			sess.flash(r, sentence(problemFor(err).message))
			http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
			return nil
		}
		if err != nil {
			return err
		}
		if event != "" {
			audit.event(r, event, me.UserID, me.SID, append([]slog.Attr{slog.String("target_user_id", id)}, attrs...)...)
		}
		msg := target.Username + " " + changed + "."
		if revoke {
			// The change replaced the user's security stamp, which ends
			// their sessions at the next touch; revoking them in Redis
			// ends them now.
			now := revokeAll(r, index, audit, target.ID, "", session.EndedForSecurity, slog.String("by_user_id", me.UserID), slog.String("reason", action))
			if action == "revoke-sessions" {
				mail.notify(r, account.KindSessionsRevoked, target.ID, nil)
			}
			if target.ID == me.UserID {
				// The admin changed their own account: this session is
				// gone too. Do not write it back.
				if err := sess.signOut(r); err != nil {
					return err
				}
				http.Redirect(w, r, "/login?signed_out=1", http.StatusSeeOther)
				return nil
			}
			switch {
			case now && changed == "":
				msg = target.Username + " was signed out everywhere."
			case now:
				msg = target.Username + " " + changed + " and signed out everywhere."
			case changed == "":
				msg = target.Username + " will be signed out everywhere within " + sess.touchWithin() + "."
			default:
				msg = target.Username + " " + changed + ", and will be signed out everywhere within " + sess.touchWithin() + "."
			}
		}
		sess.flash(r, msg)
		http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
		return nil
	})
}

// pageURL builds /admin/users links that keep the filter.
func pageURL(filter string, page int) string {
	v := url.Values{}
	if strings.TrimSpace(filter) != "" {
		v.Set("q", filter)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/admin/users"
	}
	return "/admin/users?" + v.Encode()
}
