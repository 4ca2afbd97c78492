package web

import (
	"context"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Second factors (NIST SP 800-63B AAL2, the OWASP Multifactor
// Authentication Cheat Sheet): after a right password, a user with an
// authenticator app or a passkey is in a pending state, which opens
// nothing but /login/2fa (and logout) for at most pendingTTL; a right
// code, a recovery code or a passkey there completes the sign-in. Roles
// in REQUIRE_2FA_ROLES must reach aal2 before anything but enrolment.

// SecondFactors is the authenticator-app factor (mfa.Service).
type SecondFactors interface {
	NewSecret(account string) (secret, url string, err error)
	KeyURL(secret, account string) string
	Enrolled(ctx context.Context, userID string) (bool, error)
	RecoveryLeft(ctx context.Context, userID string) (int, error)
	Enroll(ctx context.Context, userID, secret, code string) ([]string, error)
	Verify(ctx context.Context, userID, code string) (mfa.Method, error)
	NewRecoveryCodes(ctx context.Context, userID string) ([]string, error)
	Disable(ctx context.Context, userID string) error
}

// PasskeyCounter says how many passkeys a user has (the passkey store).
type PasskeyCounter interface {
	Count(ctx context.Context, userID string) (int, error)
}

// passkeyRemover is a passkey store that can remove a user's passkeys
// all at once, for an admin's reset of second factors.
type passkeyRemover interface {
	DeleteAll(ctx context.Context, userID string) error
}

// factors is what the sign-in flow asks of the second factors.
type factors struct {
	totp     SecondFactors
	passkeys PasskeyCounter // nil: passkeys off
	// required are the roles that must sign in with two factors.
	required []string
}

// methodsOf returns the second factors user has, as amr values the API
// lists: "otp" and "recovery" with an authenticator app, "webauthn" with
// a passkey.
func (f *factors) methodsOf(ctx context.Context, userID string) ([]string, error) {
	var m []string
	if f == nil || f.totp == nil {
		return nil, nil
	}
	ok, err := f.totp.Enrolled(ctx, userID)
	if err != nil {
		return nil, err
	}
	if ok {
		m = append(m, "otp", "recovery")
	}
	if f.passkeys != nil {
		n, err := f.passkeys.Count(ctx, userID)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			m = append(m, "webauthn")
		}
	}
	return m, nil
}

// mustHaveAAL2 reports whether rec's role must sign in with two factors
// and its session has fewer.
func (f *factors) mustHaveAAL2(rec *session.Record) bool {
	return f != nil && rec != nil && slices.Contains(f.required, rec.Role) && rec.AMR.AAL() != session.AAL2
}

// pendingTTL is how long a sign-in waits for its second factor.
const pendingTTL = 5 * time.Minute

// pendingLogin is a sign-in waiting for its second factor: the password
// (or the first factor) was right.
type pendingLogin struct {
	UserID   string
	Username string
	Remember bool
	AMR      session.Methods // the methods so far
	Until    time.Time
	// Stamp is the user's security stamp at the first step: a password
	// change or a disable in between voids the sign-in.
	Stamp string
}

// encode writes p as the session keeps it:
// "uid|remember|amr|until|stamp|name".
func (p *pendingLogin) encode() string {
	rem := "0"
	if p.Remember {
		rem = "1"
	}
	return p.UserID + "|" + rem + "|" + strconv.Itoa(int(p.AMR)) + "|" + strconv.FormatInt(p.Until.Unix(), 10) + "|" + p.Stamp + "|" + p.Username
}

// parsePending reads what encode wrote, or nil.
func parsePending(s string) *pendingLogin {
	f := strings.SplitN(s, "|", 6)
	if len(f) != 6 || f[0] == "" {
		return nil
	}
	amr, err1 := strconv.Atoi(f[2])
	until, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || amr < 0 || amr > 255 {
		return nil
	}
	return &pendingLogin{UserID: f[0], Remember: f[1] == "1", AMR: session.Methods(amr), Until: time.Unix(until, 0), Stamp: f[4], Username: f[5]}
}

// pendingFrom returns the request's sign-in waiting for a second factor,
// or nil.
func pendingFrom(r *http.Request) *pendingLogin {
	if l := loadedFrom(r.Context()); l != nil {
		return l.pending
	}
	return nil
}

// loadPending reads the pending sign-in of a session that is not signed
// in; one past pendingTTL is dropped, and the person hears that it timed
// out.
func loadPending(ctx context.Context, sess *sessions, l *loaded) {
	s, ok := sess.sm.Get(ctx, keyPending).(string)
	if !ok {
		return
	}
	p := parsePending(s)
	if p == nil || !sess.now().Before(p.Until) {
		sess.sm.Remove(ctx, keyPending)
		l.ended = whyTimedOut
		return
	}
	l.pending = p
}

// beginPending puts the session in the pending state for u: a new token
// (a step up), and a lifetime of pendingTTL.
func (s *sessions) beginPending(r *http.Request, u *user.User, remember bool, amr session.Methods) error {
	ctx := r.Context()
	if err := s.sm.RenewToken(ctx); err != nil {
		return err
	}
	p := &pendingLogin{UserID: u.ID, Username: u.Username, Remember: remember, AMR: amr, Until: s.now().Add(pendingTTL), Stamp: u.SecurityStamp}
	s.sm.Put(ctx, keyPending, p.encode())
	// Redis keeps it a minute longer, so that the page can say it timed
	// out (loadPending) rather than not know it.
	s.sm.SetDeadline(ctx, p.Until.Add(time.Minute))
	if l := loadedFrom(ctx); l != nil {
		l.pending = p
	}
	return nil
}

// errSecondFactor is logIn's answer when the password was right and a
// second factor is needed: the session is pending.
type errSecondFactor struct{ methods []string }

func (e *errSecondFactor) Error() string { return "second factor required" }

// finishSecondFactor completes the pending sign-in p with method m: the
// user is read afresh (one disabled, or whose password changed, since
// the first step cannot finish), and the session signs in with a new
// token and both methods.
func finishSecondFactor(w http.ResponseWriter, r *http.Request, sess *sessions, users Users, limits passwordLimits, audit *auditLog, mail *mailer, p *pendingLogin, m session.Methods) error {
	u, err := users.ByID(r.Context(), p.UserID)
	if errors.Is(err, user.ErrNotFound) || err == nil && (u.Disabled || u.SecurityStamp != p.Stamp) {
		sess.sm.Remove(r.Context(), keyPending)
		return errPendingVoid
	}
	if err != nil {
		return err
	}
	return startSession(w, r, sess, limits.devices, audit, mail, u, p.Remember, p.AMR|m)
}

// errPendingVoid is a pending sign-in whose account changed (deleted,
// disabled, a new password) since its first step: the person starts
// again, and hears why (whySecurity). The API answers 401.
var errPendingVoid = fmt.Errorf("pending sign-in void: %w", errUnauthorized)

// methodOf maps the code mfa accepted to its amr.
func methodOf(m mfa.Method) session.Methods {
	if m == mfa.Recovery {
		return session.MethodRecovery
	}
	return session.MethodOTP
}

// checkCode verifies a code (from the app, or a recovery code) of the
// user through the login limiter: wrong codes count as failed attempts,
// with the same limits and audit lines as passwords.
func checkCode(r *http.Request, totp SecondFactors, limits passwordLimits, audit *auditLog, account, userID, code string) (session.Methods, error) {
	var m mfa.Method
	err := limits.check(r, audit, withACode, account, userID, func() (err error) {
		m, err = totp.Verify(r.Context(), userID, code)
		if errors.Is(err, mfa.ErrNotEnrolled) {
			err = mfa.ErrWrongCode
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	return methodOf(m), nil
}

// accountName is the limiter's account key of a username.
func accountName(username, userID string) string {
	if norm, err := user.NormalizeUsername(username); err == nil {
		return norm
	}
	return "~id:" + userID
}

// twoFactorView is the state of the second-factor pages.
type twoFactorView struct {
	Enrolled     bool
	Secret       string   // the secret being enrolled, as text
	Codes        []string // recovery codes, shown once
	RecoveryLeft int
	Passkey      bool // the user has a passkey: /login/2fa offers it
	Passkeys     bool // passkeys are on
	Required     bool // the user's role needs a second factor first
	HasOTP       bool // /login/2fa: the user has an authenticator app
}

func handleLogin2FAGet(rd *renderer, sess *sessions, f *factors) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		p := pendingFrom(r)
		if p == nil {
			http.Redirect(w, r, loginAgain(r), http.StatusSeeOther)
			return nil
		}
		tv, err := secondStepView(r.Context(), f, p)
		if err != nil {
			return err
		}
		rd.render(w, r, http.StatusOK, "login_2fa", view{Next: localPath(r.URL.Query().Get("next")), Flash: sess.popFlash(r),
			TwoFactor: tv, Form: newForm("code")})
		return nil
	})
}

// secondStepView is what /login/2fa offers the pending sign-in p: a
// code field when the user has an authenticator app, a passkey button
// when they have a passkey.
func secondStepView(ctx context.Context, f *factors, p *pendingLogin) (*twoFactorView, error) {
	methods, err := f.methodsOf(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	return &twoFactorView{HasOTP: slices.Contains(methods, "otp"), Passkey: slices.Contains(methods, "webauthn")}, nil
}

// postedCode reads the posted field "code" into a form: it must be there
// and at most maxCode bytes; missing says what to enter when it is not.
func postedCode(r *http.Request, missing string) (string, *formView) {
	form := newForm("code")
	code := r.PostForm.Get("code")
	switch {
	case strings.TrimSpace(code) == "":
		form.invalid("code", missing)
	case len(code) > maxCode:
		form.invalid("code", missing+": that is too long")
	}
	return code, form
}

// msgEnterCode asks for either kind of code.
const msgEnterCode = "Enter the 6-digit code from your authenticator app, or a recovery code"

// loginAgain is the login page for a second step without a pending
// sign-in: saying why when it timed out.
func loginAgain(r *http.Request) string {
	if l := loadedFrom(r.Context()); l != nil && l.ended != "" {
		return "/login?why=" + url.QueryEscape(l.ended)
	}
	return "/login"
}

// maxCode bounds a code as posted.
const maxCode = mfa.MaxCodeLen

func handleLogin2FAPost(rd *renderer, sess *sessions, users Users, f *factors, limits passwordLimits, audit *auditLog, mail *mailer) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		p := pendingFrom(r)
		next := localPath(r.PostForm.Get("next"))
		if p == nil {
			http.Redirect(w, r, loginAgain(r), http.StatusSeeOther)
			return nil
		}
		// The page is drawn again only for a refused code: what it
		// offers is looked up then, not on every attempt.
		again := func(form *formView, cause error) error {
			tv, err := secondStepView(r.Context(), f, p)
			if err != nil {
				return err
			}
			v := view{Next: next, TwoFactor: tv, Form: form}
			if cause == nil {
				rd.render(w, r, http.StatusUnprocessableEntity, "login_2fa", v)
				return nil
			}
			return rd.showForm(w, r, "login_2fa", v, cause, map[error]string{mfa.ErrWrongCode: "code"})
		}
		code, form := postedCode(r, msgEnterCode)
		if !form.ok() {
			return again(form, nil)
		}
		m, err := checkCode(r, f.totp, limits, audit, accountName(p.Username, p.UserID), p.UserID, code)
		if err != nil {
			return again(form, err)
		}
		err = finishSecondFactor(w, r, sess, users, limits, audit, mail, p, m)
		if errors.Is(err, errPendingVoid) {
			http.Redirect(w, r, "/login?why="+whySecurity, http.StatusSeeOther)
			return nil
		}
		if err != nil {
			return err
		}
		http.Redirect(w, r, sess.afterSignInVia(r, afterSignIn(next)), http.StatusSeeOther)
		return nil
	})
}

func handleAPILogin2FA(rd *renderer, sess *sessions, users Users, f *factors, limits passwordLimits, audit *auditLog, mail *mailer) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Code string `json:"code"`
		}
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
		if in.Code == "" || len(in.Code) > maxCode {
			return &badRequest{message: "Field code must be the 6-digit code from the authenticator app, or a recovery code"}
		}
		p := pendingFrom(r)
		if p == nil {
			return errUnauthorized
		}
		m, err := checkCode(r, f.totp, limits, audit, accountName(p.Username, p.UserID), p.UserID, in.Code)
		if err != nil {
			return err
		}
		if err := finishSecondFactor(w, r, sess, users, limits, audit, mail, p, m); err != nil {
			return err
		}
		rec := currentUser(r)
		writeJSON(w, http.StatusOK, map[string]any{"message": "Welcome, " + rec.Username + "!", "amr": rec.AMR.Names(), "aal": rec.AMR.AAL()})
		return nil
	})
}

// require2FA sends a signed-in user whose role needs two factors, and
// whose session has one, to enrolment: only the second-factor pages,
// the passkey ceremonies and logout stay open. The API answers 403.
func require2FA(rd *renderer, f *factors) func(http.Handler) http.Handler {
	open := func(p string) bool {
		return p == "/account/2fa" || strings.HasPrefix(p, "/account/2fa/") || p == "/account/passkeys" ||
			strings.HasPrefix(p, "/account/passkeys/") || strings.HasPrefix(p, "/webauthn/") ||
			p == "/logout" || p == "/auth/logout"
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if f.mustHaveAAL2(currentUser(r)) && !open(r.URL.Path) {
				if wantsJSON(r) {
					rd.fail(w, r, errSecondFactorRequired)
					return
				}
				http.Redirect(w, r, "/account/2fa", http.StatusSeeOther)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// keyTOTPSetup holds the secret being enrolled, until a code confirms it.
const keyTOTPSetup = "totp_setup"

// setupSecret returns the secret the session is enrolling, making one
// first: reloading the page keeps the QR code already scanned.
func setupSecret(r *http.Request, sess *sessions, totp SecondFactors) (string, error) {
	if s, ok := sess.sm.Get(r.Context(), keyTOTPSetup).(string); ok && mfa.ValidSecret(s) {
		return s, nil
	}
	secret, _, err := totp.NewSecret(currentUser(r).Username)
	if err != nil {
		return "", err
	}
	sess.sm.Put(r.Context(), keyTOTPSetup, secret)
	return secret, nil
}

// twoFactorStart is the confirmation that opens enrolment when the last
// authentication is older than the window.
func twoFactorStart() confirmView {
	return confirmView{Title: "Set up an authenticator app", Verb: "set up an authenticator app",
		Explain: "You will scan a QR code with an authenticator app, then enter the code it shows. Each sign-in will then ask for a code as well as your password.",
		Button:  "Continue", Action: "/account/2fa/start", Cancel: "/account/2fa"}
}

func handleTwoFactorGet(rd *renderer, sess *sessions, f *factors) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		u := currentUser(r)
		tv := &twoFactorView{Passkeys: f.passkeys != nil, Required: f.mustHaveAAL2(u)}
		left, err := f.totp.RecoveryLeft(r.Context(), u.UserID)
		switch {
		case err == nil:
			tv.Enrolled, tv.RecoveryLeft = true, left
		case errors.Is(err, mfa.ErrNotEnrolled):
		default:
			return err
		}
		rd.render(w, r, http.StatusOK, "two_factor", view{User: u, Flash: sess.popFlash(r), TwoFactor: tv, Form: newForm("code")})
		return nil
	})
}

// handleTwoFactorSetupGet shows the QR code and the secret to enrol, to a
// session that authenticated recently; others start at /account/2fa.
func handleTwoFactorSetupGet(rd *renderer, sess *sessions, f *factors) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		u := currentUser(r)
		if !sess.recentlyAuthenticated(r) {
			http.Redirect(w, r, "/account/2fa", http.StatusSeeOther)
			return nil
		}
		if ok, err := f.totp.Enrolled(r.Context(), u.UserID); err != nil || ok {
			if ok {
				http.Redirect(w, r, "/account/2fa", http.StatusSeeOther)
			}
			return err
		}
		secret, err := setupSecret(r, sess, f.totp)
		if err != nil {
			return err
		}
		rd.render(w, r, http.StatusOK, "two_factor", view{User: u, Form: newForm("code"),
			TwoFactor: &twoFactorView{Secret: secret, Passkeys: f.passkeys != nil, Required: f.mustHaveAAL2(u)}})
		return nil
	})
}

// handleTwoFactorStartPost asks for recent authentication, then leads to
// the enrolment page.
func handleTwoFactorStartPost(rd *renderer, sess *sessions, users Users, f *factors, limits passwordLimits, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		if ok, err := recentOrPassword(w, r, rd, sess, users, limits, audit, twoFactorStart()); !ok {
			return err
		}
		http.Redirect(w, r, "/account/2fa/setup", http.StatusSeeOther)
		return nil
	})
}

// handleTwoFactorPost confirms an enrolment with a code from the app. The
// code counts as used, and as a second factor of this session (amr otp).
// The recovery codes are shown once, on the answer.
func handleTwoFactorPost(rd *renderer, sess *sessions, users Users, f *factors, limits passwordLimits, audit *auditLog, mail *mailer) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		u := currentUser(r)
		if ok, err := recentOrPassword(w, r, rd, sess, users, limits, audit, twoFactorStart()); !ok {
			return err
		}
		secret, ok := sess.sm.Get(r.Context(), keyTOTPSetup).(string)
		if !ok || !mfa.ValidSecret(secret) {
			http.Redirect(w, r, "/account/2fa", http.StatusSeeOther)
			return nil
		}
		tv := &twoFactorView{Secret: secret, Passkeys: f.passkeys != nil, Required: f.mustHaveAAL2(u)}
		code, form := postedCode(r, "Enter the 6-digit code your authenticator app shows")
		if !form.ok() {
			rd.render(w, r, http.StatusUnprocessableEntity, "two_factor", view{User: u, TwoFactor: tv, Form: form})
			return nil
		}
		codes, err := f.totp.Enroll(r.Context(), u.UserID, secret, code)
		if errors.Is(err, mfa.ErrEnrolled) {
			sess.sm.Remove(r.Context(), keyTOTPSetup)
			http.Redirect(w, r, "/account/2fa", http.StatusSeeOther)
			return nil
		}
		if err != nil {
			return rd.showForm(w, r, "two_factor", view{User: u, TwoFactor: tv, Form: form}, err,
				map[error]string{mfa.ErrWrongCode: "code"})
		}
		sess.sm.Remove(r.Context(), keyTOTPSetup)
		if err := sess.reauthenticated(r, session.MethodOTP); err != nil {
			return err
		}
		audit.event(r, auditSecondFactorAdded, u.UserID, u.SID, slog.String("method", "otp"))
		mail.notifyFactor(r, u.UserID, "added", "authenticator app")
		rd.render(w, r, http.StatusOK, "two_factor", view{User: currentUser(r), TwoFactor: &twoFactorView{Enrolled: true, Codes: codes, RecoveryLeft: len(codes), Passkeys: f.passkeys != nil}})
		return nil
	})
}

// The two changes of an enrolment: each needs recent authentication and
// a code, and is confirmed on its own page first.
var twoFactorActions = map[string]confirmView{
	"disable": {Title: "Turn off the authenticator app?", Verb: "turn off the authenticator app",
		Explain: "Signing in will no longer ask for a code, and your recovery codes will stop working. Enter a code from the app to confirm.",
		Button:  "Turn off", Action: "/account/2fa/disable", Cancel: "/account/2fa", Danger: true, NeedCode: true},
	"recovery": {Title: "Make new recovery codes?", Verb: "make new recovery codes",
		Explain: "Your current recovery codes will stop working, and 10 new ones will be shown once. Enter a code from the app to confirm.",
		Button:  "Make new codes", Action: "/account/2fa/recovery", Cancel: "/account/2fa", NeedCode: true},
}

func handleTwoFactorActionGet(rd *renderer, sess *sessions, action string) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		showConfirm(w, r, rd, sess, twoFactorActions[action], nil, http.StatusOK)
		return nil
	})
}

func handleTwoFactorActionPost(rd *renderer, sess *sessions, users Users, f *factors, limits passwordLimits, audit *auditLog, mail *mailer, action string) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(r); err != nil {
			return err
		}
		c := twoFactorActions[action]
		u := currentUser(r)
		if ok, err := recentOrPassword(w, r, rd, sess, users, limits, audit, c); !ok {
			return err
		}
		code, form := postedCode(r, msgEnterCode)
		if !form.ok() {
			showConfirm(w, r, rd, sess, c, form, http.StatusUnprocessableEntity)
			return nil
		}
		if _, err := checkCode(r, f.totp, limits, audit, accountOf(u), u.UserID, code); err != nil {
			c.NeedPassword = !sess.recentlyAuthenticated(r)
			return rd.showForm(w, r, "confirm", view{User: u, Confirm: &c, Form: form}, err, map[error]string{mfa.ErrWrongCode: "code"})
		}
		switch action {
		case "disable":
			if err := f.totp.Disable(r.Context(), u.UserID); err != nil {
				return err
			}
			audit.event(r, auditSecondFactorRemoved, u.UserID, u.SID, slog.String("method", "otp"))
			mail.notifyFactor(r, u.UserID, "removed", "authenticator app")
			sess.flash(r, "The authenticator app is turned off: signing in asks for your password only")
			http.Redirect(w, r, "/account/2fa", http.StatusSeeOther)
		case "recovery":
			codes, err := f.totp.NewRecoveryCodes(r.Context(), u.UserID)
			if err != nil {
				return err
			}
			audit.event(r, auditRecoveryCodesReplaced, u.UserID, u.SID)
			mail.notifyFactor(r, u.UserID, "replaced", "recovery codes")
			rd.render(w, r, http.StatusOK, "two_factor", view{User: currentUser(r), TwoFactor: &twoFactorView{Enrolled: true, Codes: codes, RecoveryLeft: len(codes), Passkeys: f.passkeys != nil}})
		}
		return nil
	})
}

// handleTwoFactorQR serves the QR code of the secret being enrolled as a
// PNG: an image of our own, so the CSP needs no inline data or script.
func handleTwoFactorQR(rd *renderer, sess *sessions, f *factors) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		secret, ok := sess.sm.Get(r.Context(), keyTOTPSetup).(string)
		if !ok || !mfa.ValidSecret(secret) {
			return errNotFound
		}
		key, err := otp.NewKeyFromURL(f.totp.KeyURL(secret, currentUser(r).Username))
		if err != nil {
			return err
		}
		img, err := key.Image(240, 240)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "image/png")
		return png.Encode(w, img)
	})
}

// notifyFactor mails the user that a second factor changed (change:
// "added", "removed" or "replaced"; method as people read it).
func (m *mailer) notifyFactor(r *http.Request, userID, change, method string) {
	m.notify(r, account.KindSecondFactor, userID, map[string]string{"change": change, "method": method})
}

// resetFactors removes every second factor of userID: the
// authenticator app and, when the store can, the passkeys.
func resetFactors(ctx context.Context, f *factors, userID string) error {
	if err := f.totp.Disable(ctx, userID); err != nil {
		return err
	}
	if pr, ok := f.passkeys.(passkeyRemover); ok {
		return pr.DeleteAll(ctx, userID)
	}
	return nil
}
