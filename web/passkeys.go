package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-webauthn/webauthn/protocol"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/passkey"
	"github.com/gatehouse/gatehouse/internal/session"
)

// Passkeys (WebAuthn): the /account/passkeys page, where a signed-in user
// lists, adds and removes them, and the JSON endpoints of the ceremonies
// under /webauthn/ that static/js/passkey.js calls. Adding and removing
// need a recent authentication (the confirm page's pattern); each
// ceremony's challenge is single-use and lives five minutes
// (internal/passkey).

// Passkeys is what the web layer asks of internal/passkey.Service. Count
// also tells sign-in whether a password needs a second factor.
type Passkeys interface {
	Count(ctx context.Context, userID string) (int, error)
	List(ctx context.Context, userID string) ([]passkey.Credential, error)
	Get(ctx context.Context, userID, id string) (*passkey.Credential, error)
	Remove(ctx context.Context, userID, id string) (*passkey.Credential, error)
	BeginRegistration(ctx context.Context, a passkey.Account) (*protocol.CredentialCreation, string, error)
	FinishRegistration(ctx context.Context, a passkey.Account, handle, name string, body io.Reader) (*passkey.Credential, error)
	BeginLogin(ctx context.Context, conditional bool) (*protocol.CredentialAssertion, string, error)
	FinishLogin(ctx context.Context, handle string, body io.Reader) (*passkey.Result, error)
	BeginVerify(ctx context.Context, purpose string, a passkey.Account) (*protocol.CredentialAssertion, string, error)
	FinishVerify(ctx context.Context, purpose string, a passkey.Account, handle string, body io.Reader) (*passkey.Result, error)
	DeleteAll(ctx context.Context, userID string) error // passkeyRemover: an admin's reset
}

// Audit events of passkeys.
const (
	auditPasskeyAdded   = "passkey_added"
	auditPasskeyRemoved = "passkey_removed"
	auditPasskeyFailure = "passkey_failure" // a ceremony whose answer did not verify
	auditPasskeyCloned  = "passkey_cloned"  // a signature counter went backwards: refused
)

// passkeysView is the passkeys page's state.
type passkeysView struct {
	List []passkeyRow
	// Recent: the session authenticated recently, so the page offers
	// the add form; otherwise a link to confirm first.
	Recent bool
	Max    int
}

// passkeyRow is one passkey as the page lists it.
type passkeyRow struct {
	ID, Name            string
	CreatedAt, LastUsed time.Time
}

func passkeyRows(list []passkey.Credential) []passkeyRow {
	rows := make([]passkeyRow, 0, len(list))
	for _, c := range list {
		rows = append(rows, passkeyRow{ID: c.IDString(), Name: c.Name, CreatedAt: c.CreatedAt, LastUsed: c.LastUsedAt})
	}
	return rows
}

// accountOfRecord is the WebAuthn account of the signed-in user.
func accountOfRecord(u *session.Record) passkey.Account {
	return passkey.Account{ID: u.UserID, Username: u.Username}
}

func handlePasskeysGet(rd *renderer, sess *sessions, pk Passkeys) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		u := currentUser(r)
		list, err := pk.List(r.Context(), u.UserID)
		if err != nil {
			return err
		}
		rd.render(w, r, http.StatusOK, "passkeys", view{User: u, Flash: sess.popFlash(r), Form: newForm("name"),
			Passkeys: &passkeysView{List: passkeyRows(list), Recent: sess.recentlyAuthenticated(r), Max: passkey.MaxPerUser}})
		return nil
	})
}

// addPasskeyConfirm is the confirmation page that comes before adding a
// passkey when the last authentication is not recent.
var addPasskeyConfirm = confirmView{
	Title:   "Add a passkey",
	Explain: "A passkey lets you sign in with your device's screen lock or a security key instead of your password. First confirm it's you.",
	Verb:    "add a passkey",
	Button:  "Continue",
	Action:  "/account/passkeys/add",
	Cancel:  "/account/passkeys",
}

func handlePasskeyAddGet(rd *renderer, sess *sessions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		showConfirm(w, r, rd, sess, addPasskeyConfirm, nil, http.StatusOK)
	})
}

// handlePasskeyAddPost confirms it's the user (recentOrPassword), then
// leads back to the passkeys page, which then offers the add form.
func handlePasskeyAddPost(rd *renderer, sess *sessions, users Users, limits passwordLimits, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		if ok, err := recentOrPassword(w, r, rd, sess, users, limits, audit, addPasskeyConfirm); !ok {
			return err
		}
		http.Redirect(w, r, "/account/passkeys#add", http.StatusSeeOther)
		return nil
	})
}

// removePasskeyConfirm is the confirmation page of removing c.
func removePasskeyConfirm(c *passkey.Credential) confirmView {
	return confirmView{
		Title:   "Remove the passkey " + c.Name + "?",
		Explain: "You will no longer be able to sign in with the passkey " + c.Name + ". Remove it from the device too, in its passkey or password settings.",
		Verb:    "remove this passkey",
		Button:  "Remove passkey",
		Action:  "/account/passkeys/" + c.IDString() + "/remove",
		Cancel:  "/account/passkeys",
		Danger:  true,
	}
}

func handlePasskeyRemoveGet(rd *renderer, sess *sessions, pk Passkeys) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		c, err := pk.Get(r.Context(), currentUser(r).UserID, chi.URLParam(r, "id"))
		if err != nil {
			return err
		}
		showConfirm(w, r, rd, sess, removePasskeyConfirm(c), nil, http.StatusOK)
		return nil
	})
}

// handlePasskeyRemovePost removes one of the user's passkeys, after a
// recent authentication, and sends the account a notice.
func handlePasskeyRemovePost(rd *renderer, sess *sessions, users Users, limits passwordLimits, pk Passkeys, audit *auditLog, mail *mailer) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		u := currentUser(r)
		c, err := pk.Get(r.Context(), u.UserID, chi.URLParam(r, "id"))
		if err != nil {
			return err
		}
		if ok, err := recentOrPassword(w, r, rd, sess, users, limits, audit, removePasskeyConfirm(c)); !ok {
			return err
		}
		if _, err := pk.Remove(r.Context(), u.UserID, c.IDString()); err != nil {
			return err
		}
		audit.event(r, auditPasskeyRemoved, u.UserID, u.SID, slog.String("passkey", c.Name))
		passkeyNotice(r, mail, u.UserID, "removed")
		sess.flash(r, "The passkey "+c.Name+" has been removed.")
		http.Redirect(w, r, "/account/passkeys", http.StatusSeeOther)
		return nil
	})
}

// passkeyNotice mails the account that a passkey was added or removed
// (change), when e-mail is on; Notify adds the user and the time, and
// notify the IP address.
func passkeyNotice(r *http.Request, mail *mailer, userID, change string) {
	mail.notify(r, account.KindSecondFactor, userID, map[string]string{"change": change, "method": "passkey"})
}

// --- The ceremonies' JSON endpoints ------------------------------------

// passkeyBegun is the answer of every begin endpoint: the options for
// navigator.credentials and the handle to post back with the answer.
type passkeyBegun struct {
	Options   any    `json:"options"`
	Challenge string `json:"challenge"`
}

// passkeyAnswer is what a finish endpoint reads: the handle and the
// browser's PublicKeyCredential (toJSON()), which internal/passkey
// parses and checks; and the fields some ceremonies add.
type passkeyAnswer struct {
	Challenge  string          `json:"challenge"`
	Credential json.RawMessage `json:"credential"`
	Name       string          `json:"name,omitempty"`     // registration
	Remember   bool            `json:"remember,omitempty"` // sign-in
	Next       string          `json:"next,omitempty"`     // sign-in
}

// readPasskeyAnswer decodes a finish endpoint's body.
func readPasskeyAnswer(r *http.Request) (*passkeyAnswer, error) {
	var a passkeyAnswer
	if err := decodeJSON(r, &a); err != nil {
		return nil, err
	}
	if a.Challenge == "" || len(a.Challenge) > 128 {
		return nil, &badRequest{"Field challenge must be the handle the begin step returned"}
	}
	if len(a.Credential) == 0 || a.Credential[0] != '{' {
		return nil, &badRequest{"Field credential must be the passkey's answer, a JSON object"}
	}
	return &a, nil
}

// readBegin decodes a begin endpoint's body: empty, or a JSON object.
func readBegin(r *http.Request, dst any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return mbe
		}
		return &badRequest{"Request body could not be read"}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return decodeJSON(r, dst)
}

func handlePasskeyRegisterBegin(rd *renderer, sess *sessions, pk Passkeys) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := readBegin(r, &struct{}{}); err != nil {
			return err
		}
		if !sess.recentlyAuthenticated(r) {
			return errReauthRequired
		}
		opts, h, err := pk.BeginRegistration(r.Context(), accountOfRecord(currentUser(r)))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, passkeyBegun{Options: opts, Challenge: h})
		return nil
	})
}

func handlePasskeyRegisterFinish(rd *renderer, sess *sessions, pk Passkeys, audit *auditLog, mail *mailer) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		a, err := readPasskeyAnswer(r)
		if err != nil {
			return err
		}
		if !sess.recentlyAuthenticated(r) {
			return errReauthRequired
		}
		u := currentUser(r)
		c, err := pk.FinishRegistration(r.Context(), accountOfRecord(u), a.Challenge, a.Name, bytes.NewReader(a.Credential))
		if err != nil {
			if errors.Is(err, passkey.ErrFailed) {
				audit.event(r, auditPasskeyFailure, u.UserID, u.SID, slog.String("ceremony", "register"))
			}
			return err
		}
		// Making the passkey proved this session holds it (and, with
		// the UV flag, its user's PIN or biometric): it counts as used,
		// as the code that confirms an authenticator app does.
		m := session.MethodWebAuthn
		if c.Record.Flags.UserVerified {
			m |= session.MethodUserVerified
		}
		if err := sess.reauthenticated(r, m); err != nil {
			return err
		}
		audit.event(r, auditPasskeyAdded, u.UserID, u.SID, slog.String("passkey", c.Name))
		passkeyNotice(r, mail, u.UserID, "added")
		sess.flash(r, "The passkey "+c.Name+" has been added.")
		writeJSON(w, http.StatusCreated, map[string]string{"message": "Passkey added", "redirect": "/account/passkeys"})
		return nil
	})
}
