package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
)

// TestVerificationBoundToAddress: a link proves the address it was sent
// to, and nothing once the address waiting for verification changed.
func TestVerificationBoundToAddress(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{mail: true})
	m := newMailbox(t, a)
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("sky", "correct horse 1"), "/dashboard")
	wantRedirect(t, b.postForm("/account/email", url.Values{"email": {"first@example.com"}}), "/account/email")
	first := link(t, m.next(), "/email/verify")
	wantRedirect(t, b.postForm("/account/email", url.Values{"email": {"second@example.com"}}), "/account/email")
	second := link(t, m.next(), "/email/verify")
	// No notice: there was no verified address to tell.
	m.none()
	for _, req := range []response{b.get(first), b.postForm("/email/verify", url.Values{"token": {tokenOf(t, first)}})} {
		wantStatus(t, req, http.StatusBadRequest)
	}
	wantStatus(t, b.postForm("/email/verify", url.Values{"token": {tokenOf(t, second)}}), http.StatusOK)
	d := doc(t, b.get("/account/email"))
	if got := text(d, "#verified"); got != "second@example.com" {
		t.Fatalf("verified address: got %q", got)
	}
	// Another account cannot verify it (only the mailbox's holder learns
	// why), nor a look-alike.
	c := newBrowser(t, a.URL)
	wantRedirect(t, c.signup("tay", "correct horse 1"), "/dashboard")
	for _, addr := range []string{"SECOND@example.com", "sec0nd@example.com"} {
		wantRedirect(t, c.postForm("/account/email", url.Values{"email": {addr}}), "/account/email")
		r := c.postForm("/email/verify", url.Values{"token": {tokenOf(t, link(t, m.next(), "/email/verify"))}})
		wantStatus(t, r, http.StatusConflict)
		if got := text(doc(t, r), "#form-error"); !strings.HasPrefix(got, "Use a different email address") {
			t.Errorf("%s: got %q", addr, got)
		}
	}
}

// TestEmailPageNeedsRecentPassword: changing the address asks for the
// password when the last one entered is older than the window.
func TestEmailPageNeedsRecentPassword(t *testing.T) {
	t.Parallel()
	clock := &testClock{t: time.Now()}
	a := newApp(t, newBackends(t), options{mail: true, now: clock.now})
	m := newMailbox(t, a)
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("vic", "correct horse 1"), "/dashboard")
	clock.advance(11 * time.Minute)
	d := doc(t, b.get("/account/email"))
	if d.Find("#password").Length() != 1 {
		t.Fatal("the page does not ask for the password")
	}
	r := b.postForm("/account/email", url.Values{"email": {"not an address"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	d = doc(t, r)
	if got := fieldError(d, "email"); got != "Enter an email address in the correct format, like name@example.com" {
		t.Errorf("email: got %q", got)
	}
	if got := fieldError(d, "password"); got != "Enter your password" {
		t.Errorf("password: got %q", got)
	}
	r = b.postForm("/account/email", url.Values{"email": {"vic@example.com"}, "password": {"wrong horse 1"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	m.none()
	wantRedirect(t, b.postForm("/account/email", url.Values{"email": {"vic@example.com"}, "password": {"correct horse 1"}}), "/account/email")
	if msg := m.next(); msg.To[0] != "vic@example.com" {
		t.Fatalf("got mail to %v", msg.To)
	}
}

// testClock is a settable clock.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time          { return c.t }
func (c *testClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// TestNewDeviceNotice: a sign-in without the account's device cookie
// mails a notice with the device, IP and time, and a "this wasn't me"
// link; a sign-in with it does not. The link's POST ends that session,
// replaces the security stamp and leads to a new password.
func TestNewDeviceNotice(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{mail: true})
	m := newMailbox(t, a)
	owner := newBrowser(t, a.URL)
	signupWithEmail(t, a, m, owner, "una", "correct horse 1", "una@example.com")
	// The browser that signed up holds the device cookie: no notice.
	wantRedirect(t, owner.postForm("/logout", nil), "/login?signed_out=1")
	wantRedirect(t, owner.login("una", "correct horse 1"), "/dashboard")
	m.none()

	thief := newBrowser(t, a.URL)
	wantRedirect(t, thief.login("una", "correct horse 1"), "/dashboard")
	msg := m.next()
	if !strings.Contains(msg.Subject, "New sign-in") || msg.To[0] != "una@example.com" {
		t.Fatalf("got %q to %v", msg.Subject, msg.To)
	}
	for _, want := range []string{"Device: " + session.Device("Go-http-client/1.1"), "IP address: 127.0.0.1", "Time: "} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("the notice lacks %q:\n%s", want, msg.Text)
		}
	}
	notMe := link(t, msg, "/account/not-me")
	// The link's page asks first; following it changes nothing.
	anyone := newBrowser(t, a.URL)
	d := doc(t, anyone.get(notMe))
	if d.Find(`form[action="/account/not-me"] input[name=token]`).AttrOr("value", "") != tokenOf(t, notMe) {
		t.Fatal("the page has no form with the token")
	}
	wantStatus(t, thief.get("/dashboard"), http.StatusOK)
	r := anyone.postForm("/account/not-me", url.Values{"token": {tokenOf(t, notMe)}})
	wantStatus(t, r, http.StatusOK)
	d = doc(t, r)
	if !strings.HasPrefix(text(d, "#notice"), "We signed that device out") {
		t.Fatalf("got notice %q", text(d, "#notice"))
	}
	// That session is gone at once.
	wantRedirect(t, thief.get("/dashboard"), "/login?why=elsewhere")
	// The page leads to a new password.
	tok := d.Find(`input[name=token]`).AttrOr("value", "")
	r = anyone.postForm("/password/reset", url.Values{"token": {tok}, "new_password": {"owner again 42"}, "new_password_confirm": {"owner again 42"}})
	wantRedirect(t, r, "/dashboard")
	// Single use.
	wantStatus(t, anyone.postForm("/account/not-me", url.Values{"token": {tokenOf(t, notMe)}}), http.StatusBadRequest)
	if msg := m.next(); !strings.Contains(msg.Subject, "password was changed") {
		t.Fatalf("got %q", msg.Subject)
	}
}

// TestMailOff: with e-mail off, its pages do not exist and no page offers
// them.
func TestMailOff(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	for _, p := range []string{"/password/forgot", "/password/reset?token=x", "/email/verify?token=x", "/account/not-me?token=x"} {
		wantStatus(t, b.get(p), http.StatusNotFound)
	}
	if doc(t, b.get("/login")).Find("#forgot").Length() != 0 || doc(t, b.get("/signup")).Find("#email").Length() != 0 {
		t.Fatal("a page offers e-mail while it is off")
	}
	wantStatus(t, b.postJSON("/auth/register", `{"username":"wes","password":"correct horse 1","email":"wes@example.com"}`), http.StatusBadRequest)
	wantStatus(t, b.postJSON("/auth/register", `{"username":"wes","password":"correct horse 1"}`), http.StatusCreated)
}

// TestForgotPasswordThrottled: reset requests are counted per account and
// per IP by the login limiter, with the same 429 and Retry-After.
func TestForgotPasswordThrottled(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{mail: true, maxPerAccount: 3, maxPerIP: 6})
	b := newBrowser(t, a.URL)
	for range 3 {
		wantStatus(t, forgot(t, b, "zed"), http.StatusOK)
	}
	r := forgot(t, b, "ZED")
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" || !strings.HasPrefix(text(doc(t, r), "#form-error"), "Too many requests to reset a password: wait") {
		t.Fatalf("got Retry-After %q, %q", r.Header.Get("Retry-After"), text(doc(t, r), "#form-error"))
	}
	// Other accounts from this IP, up to the IP's limit.
	for _, login := range []string{"amy", "bob", "cat"} {
		wantStatus(t, forgot(t, b, login), http.StatusOK)
	}
	r = b.postJSON("/api/password/forgot", `{"login":"dan"}`)
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
}

// TestForgotPasswordInput: bad input gets a form error or a 400, never
// a 500.
func TestForgotPasswordInput(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{mail: true})
	b := newBrowser(t, a.URL)
	r := forgot(t, b, "  ")
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if got := fieldError(doc(t, r), "login"); got != "Enter your username or email address" {
		t.Errorf("got %q", got)
	}
	wantStatus(t, forgot(t, b, strings.Repeat("x", 300)), http.StatusUnprocessableEntity)
	for _, body := range []string{`{}`, `{"login":{"$ne":null}}`, `{"login":""}`, `{"login":"a","x":1}`} {
		wantStatus(t, b.postJSON("/api/password/forgot", body), http.StatusBadRequest)
	}
	for _, body := range []string{`{}`, `{"token":"x","new_password":"correct horse 9"}`, `{"token":"` + strings.Repeat("a", 200) + `","new_password":"x"}`} {
		r := b.postJSON("/api/password/reset", body)
		wantStatus(t, r, http.StatusBadRequest)
	}
	for _, p := range []string{"/password/reset", "/password/reset?token=", "/password/reset?token=" + strings.Repeat("%00", 50), "/email/verify?token=a.b", "/account/not-me?token=..."} {
		wantStatus(t, b.get(p), http.StatusBadRequest)
	}
	// A signup with a bad address shows it with the other errors.
	r = b.postForm("/signup", url.Values{"username": {"x"}, "password": {"correct horse 1"}, "password_confirm": {"correct horse 1"}, "email": {"nope@"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	d := doc(t, r)
	if fieldError(d, "email") == "" || fieldError(d, "username") == "" {
		t.Errorf("got errors %q and %q", fieldError(d, "email"), fieldError(d, "username"))
	}
}

// TestAPIPasswordReset: the API's twin of the reset page.
func TestAPIPasswordReset(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{mail: true})
	m := newMailbox(t, a)
	b := newBrowser(t, a.URL)
	r := b.postJSON("/auth/register", `{"username":"ivy","password":"correct horse 1","email":"ivy@example.com"}`)
	wantStatus(t, r, http.StatusCreated)
	wantStatus(t, b.postForm("/email/verify", url.Values{"token": {tokenOf(t, link(t, m.next(), "/email/verify"))}}), http.StatusOK)
	wantStatus(t, b.postJSON("/api/password/forgot", `{"login":"ivy@example.com"}`), http.StatusAccepted)
	tok := tokenOf(t, link(t, m.next(), "/password/reset"))
	r = b.postJSON("/api/password/reset", `{"token":"`+tok+`","new_password":"short"}`)
	wantStatus(t, r, http.StatusBadRequest)
	r = b.postJSON("/api/password/reset", `{"token":"`+tok+`","new_password":"api horse 77"}`)
	wantStatus(t, r, http.StatusOK)
	wantStatus(t, b.get("/api/dashboard"), http.StatusOK)
	r = b.postJSON("/api/password/reset", `{"token":"`+tok+`","new_password":"api horse 78"}`)
	wantStatus(t, r, http.StatusBadRequest)
	if jsonBody(t, r)["code"] != "link_invalid" {
		t.Errorf("got %s", r.body)
	}
}

// TestEmailLinksThrottled: the address page mails whatever address was
// typed, so its links are throttled per account like reset requests:
// nobody can mail-bomb an address through it.
func TestEmailLinksThrottled(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{mail: true, maxPerAccount: 3})
	m := newMailbox(t, a)
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("ula", "correct horse 1"), "/dashboard")
	wantRedirect(t, b.postForm("/account/email", url.Values{"email": {"victim@example.com"}}), "/account/email")
	for range 2 {
		wantRedirect(t, b.postForm("/account/email", url.Values{"resend": {"1"}}), "/account/email")
	}
	r := b.postForm("/account/email", url.Values{"resend": {"1"}})
	wantStatus(t, r, http.StatusTooManyRequests)
	if got := text(doc(t, r), "#form-error"); !strings.HasPrefix(got, "Too many requests to send a confirmation link: wait") {
		t.Errorf("got %q", got)
	}
	wantStatus(t, b.postForm("/account/email", url.Values{"email": {"victim2@example.com"}}), http.StatusTooManyRequests)
	for range 3 {
		m.next()
	}
	m.none()
}
