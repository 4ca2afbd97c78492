package web_test

// The abuse suite, round two: defences that could be gone around or turned
// against the people they protect. Each test names one threat; the
// security suite's index (security_test.go) lists them with the others.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/user"
)

// TestAttackPasswordGuessingWithASession: anyone holding a session (a
// borrowed laptop, a stolen cookie) must not be able to guess the
// account's password through the pages that check it again: the confirm
// page, the password form and POST /api/password share the login's
// limits, 429 and audit lines.
func TestAttackPasswordGuessingWithASession(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	thief := newBrowser(t, a.URL)
	wantRedirect(t, thief.signup("borrowed", "password-1"), "/dashboard")

	// 40 guesses of the current password through the API: after the
	// account's limit they are refused, and the right one is too.
	var statuses []int
	for i := range 40 {
		r := thief.postJSON("/api/password", fmt.Sprintf(`{"current_password":"guess-%02d","new_password":"taken-over-1"}`, i))
		statuses = append(statuses, r.StatusCode)
	}
	if statuses[0] != http.StatusForbidden || statuses[39] != http.StatusTooManyRequests {
		t.Fatalf("40 wrong current passwords: got statuses %v, want 403 at first and 429 at the end", statuses)
	}
	r := thief.postJSON("/api/password", `{"current_password":"password-1","new_password":"taken-over-1"}`)
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// The password was not changed.
	u, err := a.users.ByUsername(context.Background(), "borrowed")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.users.CheckPassword(context.Background(), u.ID, "password-1"); err != nil {
		t.Fatalf("the password changed: %v", err)
	}
	if n := strings.Count(a.logs.String(), "event=password_check_failure"); n < 5 {
		t.Errorf("got %d password_check_failure audit lines, want one per failure", n)
	}
}

// TestAttackPasswordGuessingOnTheConfirmPage: a sensitive action's
// confirmation page and the password form are throttled the same way, with
// the login form's message.
func TestAttackPasswordGuessingOnTheConfirmPage(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now})
	thief := newBrowser(t, a.URL)
	wantRedirect(t, thief.signup("lent", "password-1"), "/dashboard")
	clock.advance(11 * time.Minute) // past the reauthentication window
	for i := range 5 {
		r := thief.postForm("/account/sessions/revoke-others", url.Values{"password": {fmt.Sprintf("guess-%d", i)}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
	}
	r := thief.postForm("/account/sessions/revoke-others", url.Values{"password": {"password-1"}})
	wantStatus(t, r, http.StatusTooManyRequests)
	if got := text(doc(t, r), "#form-error"); !strings.Contains(got, "Too many failed sign-in attempts") {
		t.Errorf("confirmation page, throttled: got message %q, want the login form's", got)
	}
	r = thief.postForm("/account/password", url.Values{"current_password": {"password-1"},
		"new_password": {"taken-over-1"}, "new_password_confirm": {"taken-over-1"}})
	wantStatus(t, r, http.StatusTooManyRequests)
	if got := text(doc(t, r), "#form-error"); !strings.Contains(got, "Too many failed sign-in attempts") {
		t.Errorf("password form, throttled: got message %q, want the login form's", got)
	}
}

// TestAttackStalePrivileges: a change of role, a disable or a password
// change must end the old privileges even when revoking the sessions in
// Redis failed (here it is never attempted: the changes are made in
// MongoDB only). The touch recheck compares the user's security stamp, so
// no session outlives such a change by more than SESSION_TOUCH_INTERVAL.
func TestAttackStalePrivileges(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now})
	ctx := context.Background()
	root, err := a.users.Create(ctx, "root", "password-1", user.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.users.Create(ctx, "second", "password-1", user.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	victim, err := a.users.Register(ctx, "victim", "password-1")
	if err != nil {
		t.Fatal(err)
	}
	admin := newBrowser(t, a.URL)
	wantRedirect(t, admin.login("root", "password-1"), "/dashboard")
	laptop := newBrowser(t, a.URL)
	wantRedirect(t, laptop.login("victim", "password-1"), "/dashboard")

	// Demoted, and the victim's password changed elsewhere, in MongoDB
	// only.
	if _, err := a.users.SetRole(ctx, root.ID, user.RoleUser); err != nil {
		t.Fatal(err)
	}
	if err := a.users.ChangePassword(ctx, victim.ID, "password-1", "password-2"); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Minute) // one touch interval
	wantRedirect(t, admin.postForm("/admin/users/"+victim.ID+"/promote", nil), "/login?why=security")
	if u, _ := a.users.ByID(ctx, victim.ID); u.Role != user.RoleUser {
		t.Fatal("the demoted admin's old session promoted a user")
	}
	wantRedirect(t, laptop.get("/dashboard"), "/login?why=security")
}

// TestAttackSignupFlood: a flood of sign-ups from one IP must not starve
// sign-ins from others. Before, sign-ups were not throttled and hashed the
// password before checking the name, so a flood of taken names (all 409)
// filled the hashing slots and logins got 503.
func TestAttackSignupFlood(t *testing.T) {
	t.Parallel()
	owasp := password.OWASP // the production cost: tens of milliseconds a hash
	a := newApp(t, newBackends(t), options{trustedProxies: localProxy, hashSlots: 2, hashWait: 150 * time.Millisecond,
		maxPerIP: 1000, maxPerAccount: 1000, hashParams: &owasp, signupMax: 10})
	wantRedirect(t, newBrowser(t, a.URL).signup("taken", "password-1"), "/dashboard")
	wantRedirect(t, newBrowser(t, a.URL).signup("member", "password-1"), "/dashboard")

	const flood = 60
	var wg sync.WaitGroup
	signups := make(chan int, flood)
	for range flood {
		wg.Go(func() {
			r := newBrowser(t, a.URL).postJSONFrom("203.0.113.66", "/auth/register", `{"username":"taken","password":"password-1"}`)
			signups <- r.StatusCode
		})
	}
	// One person signing in, again and again, while the flood runs.
	var logins []int
	var took []time.Duration
	for range 5 {
		start := time.Now()
		logins = append(logins, newBrowser(t, a.URL).loginFrom("198.51.100.5", "member", "password-1").StatusCode)
		took = append(took, time.Since(start).Round(time.Millisecond))
	}
	t.Logf("logins during the flood: statuses %v, latencies %v", logins, took)
	wg.Wait()
	close(signups)
	counts := map[int]int{}
	for c := range signups {
		counts[c]++
	}
	t.Logf("sign-ups from one IP: %v", counts)
	for _, c := range logins {
		if c != http.StatusSeeOther {
			t.Errorf("logins during the flood: got %v, want all 303; sign-ups got %v", logins, counts)
			break
		}
	}
	if counts[http.StatusTooManyRequests] < flood-10 {
		t.Errorf("sign-ups from one IP: got %v, want all but 10 (SIGNUP_MAX_PER_IP) refused with 429", counts)
	}
	r := newBrowser(t, a.URL).postJSONFrom("203.0.113.66", "/auth/register", `{"username":"late","password":"password-1"}`)
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// Another address may still sign up.
	wantStatus(t, newBrowser(t, a.URL).postJSONFrom("192.0.2.10", "/auth/register", `{"username":"neighbour","password":"password-1"}`), http.StatusCreated)
}

// TestAttackLockoutByBackoff: attackers failing slowly from three IPs keep
// the account-wide backoff up. Before device cookies, the owner typing the
// right password from a fourth IP got 429 every time: a lockout by proxy.
// Now the owner's browser, which signed in before, carries a device cookie
// for the account, and its attempts are limited per device instead.
func TestAttackLockoutByBackoff(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{trustedProxies: localProxy, now: clock.now})
	owner := newBrowser(t, a.URL)
	wantRedirect(t, owner.signup("target", "password-1"), "/dashboard")
	wantRedirect(t, owner.postForm("/logout", nil), "/login?signed_out=1")
	if owner.cookie(deviceCookieName) == "" {
		t.Fatal("no device cookie after signing in and out")
	}

	// Three IPs, four failures each, slowly enough to be counted.
	for round := range 4 {
		for _, ip := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
			r := newBrowser(t, a.URL).loginFrom(ip, "target", fmt.Sprintf("guess-%d-%s", round, ip))
			if r.StatusCode == http.StatusTooManyRequests {
				clock.advance(retryAfter(t, r))
				r = newBrowser(t, a.URL).loginFrom(ip, "target", fmt.Sprintf("guess-%d-%s", round, ip))
			}
			wantStatus(t, r, http.StatusUnprocessableEntity)
		}
	}
	// The backoff is up: a browser without the device cookie is refused,
	// even with the right password.
	stranger := newBrowser(t, a.URL).loginFrom("198.51.100.40", "target", "password-1")
	wantStatus(t, stranger, http.StatusTooManyRequests)
	// The owner's browser signs in at once, from a fourth IP.
	for range 3 {
		r := owner.loginFrom("198.51.100.40", "target", "password-1")
		wantRedirect(t, r, "/dashboard")
		wantRedirect(t, owner.postForm("/logout", nil), "/login?signed_out=1")
	}
	// A device cookie for another account is worth nothing here.
	wantRedirect(t, newBrowser(t, a.URL).signup("other", "password-1"), "/dashboard")
	// The device itself is limited: its own failures block it.
	for i := range 5 {
		wantStatus(t, owner.loginFrom("198.51.100.40", "target", fmt.Sprintf("typo-%d", i)), http.StatusUnprocessableEntity)
	}
	wantStatus(t, owner.loginFrom("198.51.100.40", "target", "password-1"), http.StatusTooManyRequests)
}

// retryAfter reads a 429's Retry-After.
func retryAfter(t *testing.T, r response) time.Duration {
	t.Helper()
	var s int
	if _, err := fmt.Sscan(r.Header.Get("Retry-After"), &s); err != nil || s <= 0 {
		t.Fatalf("429 with Retry-After %q", r.Header.Get("Retry-After"))
	}
	return time.Duration(s) * time.Second
}

// TestAttackAmbiguousJSON: a body with a key twice, or a key in another
// case, means different things to different parsers (Go's took the last
// and matched case-insensitively). The API refuses both with 400.
func TestAttackAmbiguousJSON(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	wantStatus(t, newBrowser(t, a.URL).postJSON("/auth/register", `{"username":"erin","password":"password-1"}`), http.StatusCreated)
	for _, tt := range []struct{ body, want string }{
		{`{"username":"erin","password":"wrong-pass","password":"password-1"}`, "Field password appears more than once"},
		{`{"username":"mallory","username":"erin","password":"password-1"}`, "Field username appears more than once"},
		{`{"Username":"erin","password":"password-1"}`, "Field Username must be spelt username"},
		{`{"username":"erin","PASSWORD":"password-1"}`, "Field PASSWORD must be spelt password"},
	} {
		r := newBrowser(t, a.URL).postJSON("/auth/login", tt.body)
		wantStatus(t, r, http.StatusBadRequest)
		if m := jsonBody(t, r); m["error"] != tt.want {
			t.Errorf("%s: got error %q, want %q", tt.body, m["error"], tt.want)
		}
	}
}

// TestAttackCORSOriginOnForms: an origin trusted for the JSON API
// (CORS_ALLOWED_ORIGINS) is exempt from the cross-origin check there only,
// never on HTML forms or admin actions.
func TestAttackCORSOriginOnForms(t *testing.T) {
	t.Parallel()
	const trusted = "https://app.example.test"
	a := newApp(t, newBackends(t), options{cors: []string{trusted}})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("corsy", "password-1"), "/dashboard")
	for _, path := range []string{"/logout", "/account/sessions/revoke-others", "/admin/users/x/promote", "/account/password"} {
		req, _ := http.NewRequest(http.MethodPost, a.URL+path, nil)
		req.Header.Set("Origin", trusted)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if r := b.do(req); r.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s from the API's CORS origin: got %d, want 403", path, r.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/auth/logout", nil)
	req.Header.Set("Origin", trusted)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	wantStatus(t, b.do(req), http.StatusOK)
}

// TestAttackRevokeOneOtherSession: signing out one other session needs the
// same recent authentication as signing out all of them, so that a stolen
// cookie cannot quietly sign the owner's devices out one by one.
func TestAttackRevokeOneOtherSession(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now})
	wantRedirect(t, newBrowser(t, a.URL).signup("owner2", "password-1"), "/dashboard")
	owner := signInAs(t, a.URL, "owner2", uaFirefoxMac)
	thief := signInAs(t, a.URL, "owner2", uaChromeLinux)
	clock.advance(11 * time.Minute) // past REAUTH_WINDOW
	ownerID := sessionIDOf(t, owner)

	r := thief.postForm("/account/sessions/"+ownerID+"/revoke", nil)
	wantStatus(t, r, http.StatusOK)
	if got := text(doc(t, r), "#why-password"); got != "Confirm your password to sign out that session." {
		t.Errorf("revoking another session without a recent password: got %q, want its confirmation page", got)
	}
	req, _ := http.NewRequest(http.MethodDelete, a.URL+"/api/sessions/"+ownerID, nil)
	r = thief.do(req)
	wantStatus(t, r, http.StatusForbidden)
	if m := jsonBody(t, r); m["code"] != "reauth_required" {
		t.Errorf("API: got %v, want code reauth_required", m)
	}
	wantStatus(t, owner.get("/dashboard"), http.StatusOK)
	// Signing out one's own session needs nothing more.
	wantRedirect(t, thief.postForm("/account/sessions/"+sessionIDOf(t, thief)+"/revoke", nil), "/login?signed_out=1")
}

// TestAttackIPv6Rotation: one household's IPv6 block is one client for the
// per-IP limits: addresses of one /64 share them.
func TestAttackIPv6Rotation(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{trustedProxies: localProxy, maxPerIP: 3})
	b := newBrowser(t, a.URL)
	for i := range 3 {
		wantStatus(t, b.loginFrom(fmt.Sprintf("2001:db8:1:2::%x", i+1), fmt.Sprintf("user%d", i), "wrong-pass"), http.StatusUnprocessableEntity)
	}
	wantStatus(t, b.loginFrom("2001:db8:1:2:ffff:ffff:ffff:ffff", "user9", "wrong-pass"), http.StatusTooManyRequests)
	// Another /64 is another client.
	wantStatus(t, b.loginFrom("2001:db8:1:3::1", "user9", "wrong-pass"), http.StatusUnprocessableEntity)
}

// TestSessionCap: signing in past MAX_SESSIONS_PER_USER ends the least
// recently used session, with an audit line.
func TestSessionCap(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now, maxSessions: 3})
	wantRedirect(t, newBrowser(t, a.URL).signup("many", "password-1"), "/dashboard") // the first, then idle
	var browsers []*browser
	for range 3 {
		clock.advance(2 * time.Minute)
		browsers = append(browsers, signInAs(t, a.URL, "many", uaFirefoxMac))
	}
	for _, b := range browsers {
		wantStatus(t, b.get("/dashboard"), http.StatusOK)
	}
	r := browsers[0].get("/api/sessions")
	if n := len(jsonBody(t, r)["sessions"].([]any)); n != 3 {
		t.Errorf("got %d sessions, want 3", n)
	}
	if !strings.Contains(a.logs.String(), "event=session_evicted") {
		t.Error("no audit line for the evicted session")
	}
}

// sessionIDOf returns the public id of b's own session.
func sessionIDOf(t *testing.T, b *browser) string {
	t.Helper()
	for _, s := range listSessions(t, b) {
		if s.Current {
			return s.ID
		}
	}
	t.Fatal("no current session in the list")
	return ""
}
