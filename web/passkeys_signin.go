package web

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/passkey"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Proving someone with a passkey: signing in without a username (a
// discoverable credential), the second factor after a password on
// /login/2fa, and a recent authentication on a confirmation page. Every
// answer is checked through the login limiter, as codes are (withACode:
// no place in the hashing queue, since nothing is hashed): a failure
// counts against the IP (sign-in) or the account (the others).

// Audit event of a passkey that proved its user.
const auditPasskeyUsed = "passkey_used"

// passkeyMethods is the amr of a verified assertion: a passkey, and the
// person verified by the authenticator (PIN, biometrics) when it says so.
func passkeyMethods(res *passkey.Result) session.Methods {
	m := session.MethodWebAuthn
	if res.UserVerified {
		m |= session.MethodUserVerified
	}
	return m
}

// verifyPasskey runs finish, one check of a passkey's answer, through
// the limits under account. A refused answer (not verified, a cloned
// key, a used or expired challenge) counts as a failure and writes a
// passkey_failure (or passkey_cloned) audit line; it is returned as
// internal/passkey said it, for the error table.
func verifyPasskey(r *http.Request, limits passwordLimits, audit *auditLog, ceremony, account, userID string,
	finish func() (*passkey.Result, error)) (*passkey.Result, error) {
	var res *passkey.Result
	var refused error
	err := limits.check(r, audit, withACode, account, userID, func() error {
		var err error
		res, err = finish()
		if errors.Is(err, passkey.ErrFailed) || errors.Is(err, passkey.ErrCloned) || errors.Is(err, passkey.ErrChallenge) {
			refused = err
			return user.ErrInvalidCredentials
		}
		return err
	})
	if refused != nil {
		who := userID
		if res != nil && who == "" {
			who = res.UserID
		}
		if errors.Is(refused, passkey.ErrCloned) {
			attrs := []slog.Attr{slog.String("ceremony", ceremony)}
			if res != nil && res.Credential != nil {
				attrs = append(attrs, slog.String("passkey", res.Credential.Name))
			}
			audit.event(r, auditPasskeyCloned, who, "", attrs...)
		} else {
			audit.event(r, auditPasskeyFailure, who, "", slog.String("ceremony", ceremony))
		}
		return nil, refused
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// maxPasskeyBegins bounds the sign-in ceremonies one IP begins in a
// window of Deps.PasskeyBegins: anyone may begin one, and each keeps a
// challenge in Redis for 5 minutes. Every login page view of a browser
// with conditional mediation begins one, so the bound is generous.
const maxPasskeyBegins = 120

func handlePasskeyLoginBegin(rd *renderer, pk Passkeys, begins WindowCounter, ipv6Prefix int) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Conditional bool `json:"conditional"`
		}
		if err := readBegin(r, &in); err != nil {
			return err
		}
		if begins != nil {
			n, err := begins.Incr(r.Context(), clientKey(r, ipv6Prefix))
			if err != nil {
				return err
			}
			if n > maxPasskeyBegins {
				return &throttledError{retryAfter: begins.Window(), message: "Too many passkey requests came from your network: wait a minute, then try again"}
			}
		}
		opts, h, err := pk.BeginLogin(r.Context(), in.Conditional)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, passkeyBegun{Options: opts, Challenge: h})
		return nil
	})
}

// handlePasskeyLoginFinish signs in whoever the passkey belongs to: one
// factor that is two (something held, and the PIN or biometrics that
// unlocked it), so no second factor is asked.
func handlePasskeyLoginFinish(rd *renderer, sess *sessions, users Users, pk Passkeys, limits passwordLimits, audit *auditLog, mail *mailer) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		a, err := readPasskeyAnswer(r)
		if err != nil {
			return err
		}
		// No account is named: failures count per IP, in a bucket of
		// their own per IP rather than one every passkey shares.
		account := "~passkey:" + clientKey(r, limits.ipv6Prefix)
		res, err := verifyPasskey(r, limits, audit, "login", account, "", func() (*passkey.Result, error) {
			return pk.FinishLogin(r.Context(), a.Challenge, bytes.NewReader(a.Credential))
		})
		if err != nil {
			return err
		}
		u, err := users.ByID(r.Context(), res.UserID)
		if errors.Is(err, user.ErrNotFound) || err == nil && u.Disabled {
			audit.event(r, auditPasskeyFailure, res.UserID, "", slog.String("ceremony", "login"), slog.String("reason", "account gone or disabled"))
			return passkey.ErrFailed
		}
		if err != nil {
			return err
		}
		if err := startSession(w, r, sess, limits.devices, audit, mail, u, a.Remember, passkeyMethods(res)); err != nil {
			return err
		}
		audit.event(r, auditPasskeyUsed, u.ID, currentUser(r).SID, slog.String("ceremony", "login"), slog.String("passkey", res.Credential.Name))
		writeJSON(w, http.StatusOK, map[string]string{"message": "Welcome, " + u.Username + "!",
			"redirect": sess.afterSignInVia(r, afterSignIn(localPath(a.Next)))})
		return nil
	})
}

func handlePasskey2FABegin(rd *renderer, pk Passkeys) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := readBegin(r, &struct{}{}); err != nil {
			return err
		}
		p := pendingFrom(r)
		if p == nil {
			return errUnauthorized
		}
		opts, h, err := pk.BeginVerify(r.Context(), passkey.SecondFactor, passkey.Account{ID: p.UserID, Username: p.Username})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, passkeyBegun{Options: opts, Challenge: h})
		return nil
	})
}

// handlePasskey2FAFinish completes a sign-in waiting for its second
// factor with a passkey of that user.
func handlePasskey2FAFinish(rd *renderer, sess *sessions, users Users, pk Passkeys, limits passwordLimits, audit *auditLog, mail *mailer) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		a, err := readPasskeyAnswer(r)
		if err != nil {
			return err
		}
		p := pendingFrom(r)
		if p == nil {
			return errUnauthorized
		}
		acct := passkey.Account{ID: p.UserID, Username: p.Username}
		res, err := verifyPasskey(r, limits, audit, "2fa", accountName(p.Username, p.UserID), p.UserID, func() (*passkey.Result, error) {
			return pk.FinishVerify(r.Context(), passkey.SecondFactor, acct, a.Challenge, bytes.NewReader(a.Credential))
		})
		if err != nil {
			return err
		}
		if err := finishSecondFactor(w, r, sess, users, limits, audit, mail, p, passkeyMethods(res)); err != nil {
			return err
		}
		rec := currentUser(r)
		audit.event(r, auditPasskeyUsed, rec.UserID, rec.SID, slog.String("ceremony", "2fa"), slog.String("passkey", res.Credential.Name))
		writeJSON(w, http.StatusOK, map[string]any{"message": "Welcome, " + rec.Username + "!",
			"amr": rec.AMR.Names(), "aal": rec.AMR.AAL(), "redirect": sess.afterSignInVia(r, afterSignIn(localPath(a.Next)))})
		return nil
	})
}

func handlePasskeyReauthBegin(rd *renderer, pk Passkeys) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := readBegin(r, &struct{}{}); err != nil {
			return err
		}
		opts, h, err := pk.BeginVerify(r.Context(), passkey.Reauth, accountOfRecord(currentUser(r)))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, passkeyBegun{Options: opts, Challenge: h})
		return nil
	})
}

// handlePasskeyReauthFinish makes the session recently authenticated
// with a passkey of its user; the page then posts its form, which the
// action accepts without a password (recentOrPassword).
func handlePasskeyReauthFinish(rd *renderer, sess *sessions, pk Passkeys, limits passwordLimits, audit *auditLog) http.Handler {
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		a, err := readPasskeyAnswer(r)
		if err != nil {
			return err
		}
		u := currentUser(r)
		res, err := verifyPasskey(r, limits, audit, "reauth", accountOf(u), u.UserID, func() (*passkey.Result, error) {
			return pk.FinishVerify(r.Context(), passkey.Reauth, accountOfRecord(u), a.Challenge, bytes.NewReader(a.Credential))
		})
		if err != nil {
			return err
		}
		if err := sess.reauthenticated(r, passkeyMethods(res)); err != nil {
			return err
		}
		audit.event(r, auditReauth, u.UserID, u.SID, slog.String("method", "webauthn"), slog.String("passkey", res.Credential.Name))
		writeJSON(w, http.StatusOK, map[string]string{"message": "Confirmed"})
		return nil
	})
}
