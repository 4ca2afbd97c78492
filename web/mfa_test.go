package web_test

import (
	"bytes"
	"image/png"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// codeAt computes the authenticator app's code for secret at t, as the
// app on a phone would.
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTP turns on the authenticator app for b's signed-in user (who
// authenticated recently) at clock's time, and returns the secret and the
// recovery codes.
func enrolTOTP(t *testing.T, b *browser, clock *fakeClock) (secret string, codes []string) {
	t.Helper()
	wantRedirect(t, b.postForm("/account/2fa/start", nil), "/account/2fa/setup")
	r := b.get("/account/2fa/setup")
	wantStatus(t, r, http.StatusOK)
	secret = text(doc(t, r), "#totp-secret")
	if len(secret) != 32 {
		t.Fatalf("got secret %q on the enrolment page, want 32 base32 characters", secret)
	}
	r = b.postForm("/account/2fa", url.Values{"code": {codeAt(t, secret, clock.now())}})
	wantStatus(t, r, http.StatusOK)
	doc(t, r).Find("#recovery-codes code").Each(func(_ int, s *goquery.Selection) { codes = append(codes, s.Text()) })
	if len(codes) != 10 {
		t.Fatalf("got %d recovery codes, want 10: %.400s", len(codes), r.body)
	}
	return secret, codes
}

// newEnrolled starts an app with o (and a fake clock), and signs up
// name in a browser, recently authenticated.
func newEnrolled(t *testing.T, name string, o options) (*app, *browser, *fakeClock) {
	t.Helper()
	clock := newClock()
	o.now = clock.now
	a := newApp(t, newBackends(t), o)
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup(name, "password-1"), "/dashboard")
	return a, b, clock
}

// amrOf reads the dashboard's amr and aal.
func amrOf(t *testing.T, b *browser) (amr []string, aal string) {
	t.Helper()
	m := jsonBody(t, b.get("/api/dashboard"))
	for _, v := range m["amr"].([]any) {
		amr = append(amr, v.(string))
	}
	return amr, m["aal"].(string)
}

// TestTOTPEnrolAndSignIn: enrolment shows a QR code (an image the app
// serves) and the secret; a wrong code is refused on the field; a right
// one shows 10 recovery codes and raises the session to aal2. Signing in
// afterwards takes the password, then a code.
func TestTOTPEnrolAndSignIn(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("twostep", "password-1"), "/dashboard")
	if amr, aal := amrOf(t, b); !slices.Equal(amr, []string{"pwd"}) || aal != "aal1" {
		t.Fatalf("after sign-up: got amr %v %s, want [pwd] aal1", amr, aal)
	}

	if got := text(doc(t, b.get("/account/2fa")), "#status strong"); got != "off" {
		t.Fatalf("got status %q, want off", got)
	}
	wantRedirect(t, b.postForm("/account/2fa/start", nil), "/account/2fa/setup")
	r := b.get("/account/2fa/setup")
	wantStatus(t, r, http.StatusOK)
	d := doc(t, r)
	secret := text(d, "#totp-secret")
	if src, _ := d.Find("img.qr").Attr("src"); src != "/account/2fa/qr.png" {
		t.Fatalf("got QR src %q", src)
	}
	qr := b.get("/account/2fa/qr.png")
	wantStatus(t, qr, http.StatusOK)
	if ct := qr.Header.Get("Content-Type"); ct != "image/png" {
		t.Fatalf("QR code: got Content-Type %q", ct)
	}
	if img, err := png.Decode(strings.NewReader(qr.body)); err != nil || img.Bounds().Dx() < 200 {
		t.Fatalf("QR code: %v", err)
	}
	// Reloading keeps the secret already scanned.
	if again := text(doc(t, b.get("/account/2fa/setup")), "#totp-secret"); again != secret {
		t.Fatalf("reload changed the secret")
	}

	wrong := codeAt(t, secret, clock.now().Add(-5*time.Minute))
	r = b.postForm("/account/2fa", url.Values{"code": {wrong}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if msg := fieldError(doc(t, r), "code"); !strings.Contains(msg, "not right") {
		t.Fatalf("wrong code: got field error %q", msg)
	}
	r = b.postForm("/account/2fa", url.Values{"code": {codeAt(t, secret, clock.now())}})
	wantStatus(t, r, http.StatusOK)
	if n := doc(t, r).Find("#recovery-codes code").Length(); n != 10 {
		t.Fatalf("got %d recovery codes, want 10", n)
	}
	if amr, aal := amrOf(t, b); !slices.Equal(amr, []string{"pwd", "otp"}) || aal != "aal2" {
		t.Fatalf("after enrolment: got amr %v %s, want [pwd otp] aal2", amr, aal)
	}
	if got := text(doc(t, b.get("/account/2fa")), "#status strong"); got != "on" {
		t.Fatalf("got status %q, want on", got)
	}

	// A new sign-in: the password leads to the second step.
	wantStatus(t, b.postForm("/logout", nil), http.StatusSeeOther)
	r = b.login("twostep", "password-1")
	wantRedirect(t, r, "/login/2fa")
	pending := setCookie(r, "gatehouse_session")
	clock.advance(30 * time.Second)
	r = b.postForm("/login/2fa", url.Values{"code": {codeAt(t, secret, clock.now())}})
	wantRedirect(t, r, "/dashboard")
	// Each step renews the token.
	if done := setCookie(r, "gatehouse_session"); pending == nil || done == nil || done.Value == pending.Value || done.Value == "" {
		t.Fatalf("the second step did not renew the token: %v then %v", pending, done)
	}
	r = b.get("/dashboard")
	wantStatus(t, r, http.StatusOK)
	if got, _ := doc(t, r).Find("#amr").Attr("data-amr"); got != "pwd otp" {
		t.Fatalf("dashboard: got amr %q, want \"pwd otp\"", got)
	}
}

// TestTOTPReplay: a code works once. The code that confirmed enrolment
// cannot sign in; a code that signed in cannot sign in again, even in
// another browser, within its time window.
func TestTOTPReplay(t *testing.T) {
	t.Parallel()
	a, b, clock := newEnrolled(t, "replayed", options{})
	secret, _ := enrolTOTP(t, b, clock)
	used := codeAt(t, secret, clock.now())

	other := newBrowser(t, a.URL)
	wantRedirect(t, other.login("replayed", "password-1"), "/login/2fa")
	r := other.postForm("/login/2fa", url.Values{"code": {used}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if msg := fieldError(doc(t, r), "code"); !strings.Contains(msg, "not right") {
		t.Fatalf("the enrolment's code again: got %q", msg)
	}

	clock.advance(30 * time.Second)
	next := codeAt(t, secret, clock.now())
	wantRedirect(t, other.postForm("/login/2fa", url.Values{"code": {next}}), "/dashboard")
	third := newBrowser(t, a.URL)
	wantRedirect(t, third.login("replayed", "password-1"), "/login/2fa")
	wantStatus(t, third.postForm("/login/2fa", url.Values{"code": {next}}), http.StatusUnprocessableEntity)
	// The step before the one last accepted is refused too, though it
	// is within the window.
	wantStatus(t, third.postForm("/login/2fa", url.Values{"code": {codeAt(t, secret, clock.now().Add(-30*time.Second))}}), http.StatusUnprocessableEntity)
}

// TestTOTPWindow: a code is accepted one time step either side of now,
// and not two.
func TestTOTPWindow(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		skew time.Duration
		ok   bool
	}{
		{"two steps behind", -60 * time.Second, false},
		{"a step behind", -30 * time.Second, true},
		{"a step ahead", 30 * time.Second, true},
		{"two steps ahead", 60 * time.Second, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, b, clock := newEnrolled(t, "windowed", options{})
			secret, _ := enrolTOTP(t, b, clock)
			clock.advance(5 * time.Minute) // past the enrolment's step
			wantStatus(t, b.postForm("/logout", nil), http.StatusSeeOther)
			wantRedirect(t, b.login("windowed", "password-1"), "/login/2fa")
			r := b.postForm("/login/2fa", url.Values{"code": {codeAt(t, secret, clock.now().Add(tt.skew))}})
			if tt.ok {
				wantRedirect(t, r, "/dashboard")
			} else {
				wantStatus(t, r, http.StatusUnprocessableEntity)
			}
		})
	}
}

// TestRecoveryCodes: a recovery code signs in once, in any case and with
// or without its hyphen; the count left goes down; a used one is refused.
func TestRecoveryCodes(t *testing.T) {
	t.Parallel()
	_, b, clock := newEnrolled(t, "recovers", options{})
	_, codes := enrolTOTP(t, b, clock)
	wantStatus(t, b.postForm("/logout", nil), http.StatusSeeOther)

	wantRedirect(t, b.login("recovers", "password-1"), "/login/2fa")
	typed := strings.ToUpper(strings.ReplaceAll(codes[3], "-", " "))
	wantRedirect(t, b.postForm("/login/2fa", url.Values{"code": {typed}}), "/dashboard")
	if amr, aal := amrOf(t, b); !slices.Equal(amr, []string{"pwd", "recovery"}) || aal != "aal2" {
		t.Fatalf("got amr %v %s, want [pwd recovery] aal2", amr, aal)
	}
	if got := text(doc(t, b.get("/account/2fa")), "#recovery-left"); got != "9 of 10" {
		t.Fatalf("got %q recovery codes left, want 9 of 10", got)
	}
	wantStatus(t, b.postForm("/logout", nil), http.StatusSeeOther)
	wantRedirect(t, b.login("recovers", "password-1"), "/login/2fa")
	wantStatus(t, b.postForm("/login/2fa", url.Values{"code": {codes[3]}}), http.StatusUnprocessableEntity)
	wantRedirect(t, b.postForm("/login/2fa", url.Values{"code": {codes[4]}}), "/dashboard")
}

// TestPendingStateOpensOnlyTheSecondStep: after the password, before the
// code, the session opens /login/2fa and logout and nothing else; the API
// says 401. It lasts 5 minutes; then the person is told it timed out.
func TestPendingStateOpensOnlyTheSecondStep(t *testing.T) {
	t.Parallel()
	_, b, clock := newEnrolled(t, "pending", options{})
	secret, _ := enrolTOTP(t, b, clock)
	wantStatus(t, b.postForm("/logout", nil), http.StatusSeeOther)

	r := b.login("pending", "password-1")
	wantRedirect(t, r, "/login/2fa")
	if setCookie(r, "gatehouse_session") == nil {
		t.Fatal("the password step did not renew the token")
	}
	for _, p := range []string{"/dashboard", "/account/sessions", "/account/password", "/account/2fa", "/account/2fa/qr.png", "/admin/users"} {
		if r := b.get(p); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("pending: GET %s got %d %q, want a redirect to sign in", p, r.StatusCode, r.Header.Get("Location"))
		}
	}
	for _, p := range []string{"/api/dashboard", "/api/sessions"} {
		wantStatus(t, b.get(p), http.StatusUnauthorized)
	}
	wantStatus(t, b.postForm("/account/2fa/start", url.Values{"password": {"password-1"}}), http.StatusSeeOther)
	wantStatus(t, b.postJSON("/api/password", `{"current_password":"password-1","new_password":"password-2"}`), http.StatusUnauthorized)
	r = b.get("/login/2fa")
	wantStatus(t, r, http.StatusOK)
	if doc(t, r).Find("#code").Length() != 1 {
		t.Fatal("the second step has no code field")
	}

	// Logout ends it.
	wantRedirect(t, b.postForm("/logout", nil), "/login?signed_out=1")
	wantRedirect(t, b.get("/login/2fa"), "/login")

	// It times out after 5 minutes.
	wantRedirect(t, b.login("pending", "password-1"), "/login/2fa")
	clock.advance(5*time.Minute + time.Second)
	wantRedirect(t, b.postForm("/login/2fa", url.Values{"code": {codeAt(t, secret, clock.now())}}), "/login?why=timeout")
	r = b.get("/login?why=timeout")
	if msg := text(doc(t, r), ".flash"); !strings.Contains(msg, "timed out") {
		t.Fatalf("got flash %q, want it to say the sign-in timed out", msg)
	}
}

// TestWrongCodesAreThrottled: wrong codes count in the login limiter, as
// wrong passwords do: past the account's limit, 429 with Retry-After,
// even for the right code.
func TestWrongCodesAreThrottled(t *testing.T) {
	t.Parallel()
	a, b, clock := newEnrolled(t, "guessed", options{maxPerAccount: 3})
	secret, _ := enrolTOTP(t, b, clock)
	clock.advance(time.Minute)
	wantStatus(t, b.postForm("/logout", nil), http.StatusSeeOther)
	attacker := newBrowser(t, a.URL)
	wantRedirect(t, attacker.login("guessed", "password-1"), "/login/2fa")
	for i := range 3 {
		wantStatus(t, attacker.postForm("/login/2fa", url.Values{"code": {"00000" + string(rune('0'+i))}}), http.StatusUnprocessableEntity)
	}
	r := attacker.postForm("/login/2fa", url.Values{"code": {codeAt(t, secret, clock.now())}})
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	if !strings.Contains(a.logs.String(), "second_factor_failure") {
		t.Fatal("no audit line for the wrong codes")
	}
}

// TestAPISecondFactor: POST /auth/login answers that a second factor is
// required, and /api/dashboard stays 401 until POST /auth/login/2fa.
func TestAPISecondFactor(t *testing.T) {
	t.Parallel()
	a, b, clock := newEnrolled(t, "apiuser", options{})
	secret, _ := enrolTOTP(t, b, clock)
	clock.advance(time.Minute)

	api := newBrowser(t, a.URL)
	r := api.postJSON("/auth/login", `{"username":"apiuser","password":"password-1"}`)
	wantStatus(t, r, http.StatusOK)
	m := jsonBody(t, r)
	if m["second_factor"] != "required" || !slices.Equal(toStrings(m["methods"]), []string{"otp", "recovery"}) {
		t.Fatalf("got %v", m)
	}
	wantStatus(t, api.get("/api/dashboard"), http.StatusUnauthorized)
	wantStatus(t, api.postJSON("/auth/login/2fa", `{"code":""}`), http.StatusBadRequest)
	wantStatus(t, api.postJSON("/auth/login/2fa", `{"code":"123456"}`), http.StatusUnauthorized)
	r = api.postJSON("/auth/login/2fa", `{"code":"`+codeAt(t, secret, clock.now())+`"}`)
	wantStatus(t, r, http.StatusOK)
	if amr, aal := amrOf(t, api); !slices.Equal(amr, []string{"pwd", "otp"}) || aal != "aal2" {
		t.Fatalf("got amr %v %s", amr, aal)
	}
	// Without a pending sign-in, the second step is 401.
	wantStatus(t, newBrowser(t, a.URL).postJSON("/auth/login/2fa", `{"code":"123456"}`), http.StatusUnauthorized)
}

func toStrings(v any) []string {
	var s []string
	for _, x := range v.([]any) {
		s = append(s, x.(string))
	}
	return s
}

// TestTurnOffNeedsACode: turning the app off, and making new recovery
// codes, each need a code on their confirmation page; each works then.
func TestTurnOffNeedsACode(t *testing.T) {
	t.Parallel()
	_, b, clock := newEnrolled(t, "turnsoff", options{})
	secret, codes := enrolTOTP(t, b, clock)
	clock.advance(30 * time.Second)

	r := b.get("/account/2fa/recovery")
	wantStatus(t, r, http.StatusOK)
	if doc(t, r).Find("#code").Length() != 1 {
		t.Fatal("the new-codes page asks for no code")
	}
	wantStatus(t, b.postForm("/account/2fa/recovery", nil), http.StatusUnprocessableEntity)
	r = b.postForm("/account/2fa/recovery", url.Values{"code": {codeAt(t, secret, clock.now())}})
	wantStatus(t, r, http.StatusOK)
	fresh := doc(t, r).Find("#recovery-codes code").First().Text()
	if fresh == "" || slices.Contains(codes, fresh) {
		t.Fatalf("got new code %q", fresh)
	}

	r = b.postForm("/account/2fa/disable", url.Values{"code": {"999999"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if msg := fieldError(doc(t, r), "code"); msg == "" {
		t.Fatal("a wrong code shows no error on the field")
	}
	// An old recovery code no longer works; a new one does.
	wantStatus(t, b.postForm("/account/2fa/disable", url.Values{"code": {codes[0]}}), http.StatusUnprocessableEntity)
	wantRedirect(t, b.postForm("/account/2fa/disable", url.Values{"code": {fresh}}), "/account/2fa")
	if got := text(doc(t, b.get("/account/2fa")), "#status strong"); got != "off" {
		t.Fatalf("got status %q, want off", got)
	}
	wantStatus(t, b.postForm("/logout", nil), http.StatusSeeOther)
	wantRedirect(t, b.login("turnsoff", "password-1"), "/dashboard")
}

// TestStepUpWithACode: when the last authentication is older than the
// window, a sensitive action's confirmation page takes a code instead of
// the password.
func TestStepUpWithACode(t *testing.T) {
	t.Parallel()
	a, b, clock := newEnrolled(t, "stepper", options{})
	secret, _ := enrolTOTP(t, b, clock)
	other := newBrowser(t, a.URL)
	wantRedirect(t, other.login("stepper", "password-1"), "/login/2fa")
	clock.advance(30 * time.Second)
	wantRedirect(t, other.postForm("/login/2fa", url.Values{"code": {codeAt(t, secret, clock.now())}}), "/dashboard")

	clock.advance(11 * time.Minute)
	b.get("/dashboard") // the touch
	r := b.get("/account/sessions/revoke-others")
	wantStatus(t, r, http.StatusOK)
	if doc(t, r).Find("#step_code").Length() != 1 {
		t.Fatal("the confirmation page offers no code")
	}
	r = b.postForm("/account/sessions/revoke-others", url.Values{"step_code": {"000000"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if fieldError(doc(t, r), "step_code") == "" {
		t.Fatal("a wrong code shows no error on its field")
	}
	wantStatus(t, b.postForm("/account/sessions/revoke-others", url.Values{"step_code": {codeAt(t, secret, clock.now())}}), http.StatusSeeOther)
	wantRedirect(t, other.get("/dashboard"), "/login?why=elsewhere")
	if !bytes.Contains([]byte(a.logs.String()), []byte("method=otp")) {
		t.Fatal("the step up's audit line does not name its method")
	}
}

// TestRequire2FARoles: a role in REQUIRE_2FA_ROLES without a second
// factor sees nothing but enrolment until it has one.
func TestRequire2FARoles(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now, require2FA: []string{"user"}})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("mustenrol", "password-1"), "/dashboard")
	wantRedirect(t, b.get("/dashboard"), "/account/2fa")
	wantRedirect(t, b.get("/account/sessions"), "/account/2fa")
	r := b.get("/api/dashboard")
	wantStatus(t, r, http.StatusForbidden)
	if m := jsonBody(t, r); m["code"] != "second_factor_required" {
		t.Fatalf("got %v", m)
	}
	r = b.get("/account/2fa")
	wantStatus(t, r, http.StatusOK)
	if doc(t, r).Find("#required").Length() != 1 {
		t.Fatal("the enrolment page does not say why")
	}
	enrolTOTP(t, b, clock)
	wantStatus(t, b.get("/dashboard"), http.StatusOK)
}

// TestAdminResetsSecondFactors: an admin's reset, after its confirmation
// page, removes the user's authenticator app, with an audit line; the
// user then signs in with the password alone.
func TestAdminResetsSecondFactors(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now})
	admin := newAdmin(t, a, "resetter")
	lost := newBrowser(t, a.URL)
	wantRedirect(t, lost.signup("lostphone", "password-1"), "/dashboard")
	enrolTOTP(t, lost, clock)
	wantStatus(t, lost.postForm("/logout", nil), http.StatusSeeOther)
	wantRedirect(t, lost.login("lostphone", "password-1"), "/login/2fa")

	_, _, _, id := adminRow(t, admin, "lost", "lostphone")
	r := admin.get("/admin/users/" + id + "/reset-2fa")
	wantStatus(t, r, http.StatusOK)
	if h := text(doc(t, r), "h1"); !strings.Contains(h, "lostphone") {
		t.Fatalf("confirmation page heading %q does not name the user", h)
	}
	wantRedirect(t, admin.postForm("/admin/users/"+id+"/reset-2fa", nil), "/admin/users")
	if !strings.Contains(a.logs.String(), "event=second_factors_reset") {
		t.Fatal("no audit line for the reset")
	}
	fresh := newBrowser(t, a.URL)
	wantRedirect(t, fresh.login("lostphone", "password-1"), "/dashboard")
}

// TestSessionsPageShowsAMR: the sessions page says how this session was
// signed in.
func TestSessionsPageShowsAMR(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("listed", "password-1"), "/dashboard")
	d := doc(t, b.get("/account/sessions"))
	if amr, _ := d.Find("#this-session-amr").Attr("data-amr"); amr != "pwd" {
		t.Fatalf("got amr %q, want pwd", amr)
	}
	enrolTOTP(t, b, clock)
	d = doc(t, b.get("/account/sessions"))
	amr, _ := d.Find("#this-session-amr").Attr("data-amr")
	aal, _ := d.Find("#this-session-amr").Attr("data-aal")
	if amr != "pwd otp" || aal != "aal2" || !strings.Contains(text(d, "#this-session-amr"), "password and authenticator app code") {
		t.Fatalf("got %q %q %q", amr, aal, text(d, "#this-session-amr"))
	}
}

// TestPendingVoidedByPasswordChange: a sign-in waiting for its code
// cannot finish once the password changed meanwhile, even with the
// right code: the person starts again, told why.
func TestPendingVoidedByPasswordChange(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now})
	owner := newBrowser(t, a.URL)
	wantRedirect(t, owner.signup("changes", "password-1"), "/dashboard")
	secret, _ := enrolTOTP(t, owner, clock)
	thief := newBrowser(t, a.URL)
	wantRedirect(t, thief.login("changes", "password-1"), "/login/2fa")
	wantStatus(t, owner.postJSON("/api/password", `{"current_password":"password-1","new_password":"password-2-new"}`), http.StatusOK)
	clock.advance(30 * time.Second)
	wantRedirect(t, thief.postForm("/login/2fa", url.Values{"code": {codeAt(t, secret, clock.now())}}), "/login?why=security")
	wantStatus(t, thief.get("/api/dashboard"), http.StatusUnauthorized)
}
