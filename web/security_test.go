package web_test

// The security suite: one test per attack, each named TestAttack*, against
// the real router on real Redis and FerretDB. Read top to bottom, the index
// is the list of threats Gatehouse defends against (docs/security.md); the
// tests below are in the order they were written.
//
//	session fixation             TestAttackSessionFixation
//	replay after logout          TestAttackReplayAfterLogout
//	cookie theft                 TestAttackCookieTheftDevelopmentAttributes, TestAttackCookieTheftProductionAttributes
//	user enumeration             TestAttackEnumerationByJSONLogin, TestAttackEnumerationByRegistration, TestAttackEnumerationByLoginForm
//	NoSQL operator injection     TestAttackNoSQLOperatorInjection
//	tampered cookies and data    TestAttackTamperedCookies, TestAttackTamperedSessionData
//	HTML injection               TestAttackHTMLInjectionInUsername
//	password guessing            TestAttackPasswordGuessing, TestAttackCredentialStuffingFromOneIP, TestAttackGuessingAcrossInstances
//	IP spoofing to dodge limits  TestAttackSpoofedXForwardedFor
//	session token guessing       TestAttackTokenGuessing
//	login and logout CSRF        TestAttackCSRF, TestAttackOriginThatIsNotAnOrigin
//	clickjacking, XSS, sniffing  TestAttackClickjackingAndXSSHeaders
//	oversized bodies             TestAttackOversizedBodies
//	malformed input              TestAttackMalformedInput
//	login floods (hashing DoS)   TestAttackLoginFlood
//	guessable passwords          TestAttackCommonPassword, TestAttackBreachedPassword
//	look-alike usernames         TestAttackConfusableUsername

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/user"
	"github.com/gatehouse/gatehouse/web"
)

// TestAttackSessionFixation: an attacker plants a session cookie of their
// own (a real, live one) in the victim's browser before the victim signs
// in. The victim's sign-in must issue a new token, and the planted token
// must never become the victim's session.
func TestAttackSessionFixation(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	attacker := newBrowser(t, a.URL)
	wantRedirect(t, attacker.signup("mallory", "password-1"), "/dashboard")
	planted := attacker.cookie(cookieName)

	wantRedirect(t, newBrowser(t, a.URL).signup("victim", "password-1"), "/dashboard")
	victim := newBrowser(t, a.URL)
	u, _ := url.Parse(a.URL)
	victim.c.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: planted, Path: "/"}})
	wantRedirect(t, victim.login("victim", "password-1"), "/dashboard")
	if got := victim.cookie(cookieName); got == planted || got == "" {
		t.Fatalf("sign-in kept the planted token")
	}
	// The planted token is not the victim's session.
	req, _ := http.NewRequest(http.MethodGet, a.URL+"/api/dashboard", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: planted})
	r := newBrowser(t, a.URL).do(req)
	if r.StatusCode == http.StatusOK && strings.Contains(r.body, "victim") {
		t.Fatalf("the planted token was promoted to the victim's session: %s", r.body)
	}
}

// TestAttackReplayAfterLogout: a cookie copied before logout is worthless
// after it, on pages and on the API.
func TestAttackReplayAfterLogout(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("replayed", "password-1"), "/dashboard")
	stolen := b.cookie(cookieName)
	wantRedirect(t, b.postForm("/logout", nil), "/login?signed_out=1")
	for path, want := range map[string]int{"/dashboard": http.StatusSeeOther, "/api/dashboard": http.StatusUnauthorized} {
		req, _ := http.NewRequest(http.MethodGet, a.URL+path, nil)
		req.AddCookie(&http.Cookie{Name: cookieName, Value: stolen})
		r := newBrowser(t, a.URL).do(req)
		if r.StatusCode != want {
			t.Errorf("replayed cookie on %s: got %d, want %d", path, r.StatusCode, want)
		}
	}
}

// TestAttackCookieTheftDevelopmentAttributes: the session cookie is out of
// reach of scripts (HttpOnly), not sent on cross-site subrequests (Lax),
// and scoped to the whole site.
func TestAttackCookieTheftDevelopmentAttributes(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	r := newBrowser(t, a.URL).signup("cookie", "password-1")
	c := setCookie(r, cookieName)
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || c.Secure {
		t.Fatalf("got %+v, want HttpOnly, SameSite=Lax, Path=/, host-only, not Secure in development", c)
	}
}

// TestAttackEnumerationByJSONLogin: the API answers a wrong password and
// an unknown user with the same bytes.
func TestAttackEnumerationByJSONLogin(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	wantStatus(t, newBrowser(t, a.URL).postJSON("/auth/register", `{"username":"known","password":"password-1"}`), http.StatusCreated)
	wrong := newBrowser(t, a.URL).postJSON("/auth/login", `{"username":"known","password":"wrong-pass"}`)
	unknown := newBrowser(t, a.URL).postJSON("/auth/login", `{"username":"unknown","password":"wrong-pass"}`)
	if wrong.StatusCode != unknown.StatusCode || wrong.body != unknown.body {
		t.Fatalf("wrong password: %d %q; unknown user: %d %q", wrong.StatusCode, wrong.body, unknown.StatusCode, unknown.body)
	}
	for _, h := range []string{"Content-Type", "Content-Length", "Cache-Control", "Set-Cookie"} {
		if wrong.Header.Get(h) != unknown.Header.Get(h) {
			t.Errorf("header %s differs: %q vs %q", h, wrong.Header.Get(h), unknown.Header.Get(h))
		}
	}
}

// TestAttackEnumerationByRegistration: registration says no more than
// "taken", and says it the same way for any spelling of the name.
func TestAttackEnumerationByRegistration(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	wantStatus(t, newBrowser(t, a.URL).postJSON("/auth/register", `{"username":"Existing","password":"password-1"}`), http.StatusCreated)
	var bodies []string
	for _, name := range []string{"existing", "EXISTING", "Ｅｘｉｓｔｉｎｇ"} {
		r := newBrowser(t, a.URL).postJSON("/auth/register", `{"username":"`+name+`","password":"password-2"}`)
		wantStatus(t, r, http.StatusConflict)
		bodies = append(bodies, r.body)
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] || bodies[0] != `{"error":"Choose another username: that one is taken"}`+"\n" {
		t.Fatalf("got %q", bodies)
	}
}

// TestAttackNoSQLOperatorInjection: a query operator in place of a string
// is refused before it can reach MongoDB.
func TestAttackNoSQLOperatorInjection(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	wantStatus(t, newBrowser(t, a.URL).postJSON("/auth/register", `{"username":"target","password":"password-1"}`), http.StatusCreated)
	for _, body := range []string{
		`{"username":{"$ne":null},"password":{"$ne":null}}`,
		`{"username":"target","password":{"$gt":""}}`,
		`{"username":{"$regex":".*"},"password":"x"}`,
		`{"username":["target"],"password":"x"}`,
	} {
		for _, path := range []string{"/auth/login", "/auth/register"} {
			r := newBrowser(t, a.URL).postJSON(path, body)
			if r.StatusCode != http.StatusBadRequest {
				t.Errorf("%s %s: got %d, want 400", path, body, r.StatusCode)
			}
		}
	}
	// Form fields are strings by construction; an operator-looking name
	// is just an invalid name.
	r := newBrowser(t, a.URL).login("$ne", "password-1")
	wantStatus(t, r, http.StatusUnprocessableEntity)
}

// TestAttackTamperedCookies: garbage, oversized and non-base64 cookies are
// anonymous, never a 500.
func TestAttackTamperedCookies(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	for _, v := range []string{"garbage", strings.Repeat("A", 3000), "!!!!not-base64!!!!" + strings.Repeat("=", 25), "%00%ff", `"quoted"`} {
		req, _ := http.NewRequest(http.MethodGet, a.URL+"/dashboard", nil)
		req.Header.Set("Cookie", cookieName+"="+v)
		r := newBrowser(t, a.URL).do(req)
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
			t.Errorf("cookie %.20q: got %d %s, want 303 to /login", v, r.StatusCode, r.Header.Get("Location"))
		}
	}
}

func TestAttackEnumerationByLoginForm(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("carol", "password-1"), "/dashboard")
	b.postForm("/logout", nil)

	wrong := b.login("carol", "wrong-password")
	unknown := b.login("nobody", "wrong-password")
	for _, r := range []response{wrong, unknown} {
		wantStatus(t, r, http.StatusUnprocessableEntity)
		d := doc(t, r)
		if got := text(d, "#form-error"); got != "Check your username and password: they do not match an account" {
			t.Fatalf("got error %q", got)
		}
	}
	if v, _ := doc(t, wrong).Find("#username").Attr("value"); v != "carol" {
		t.Fatalf("username not kept: got %q", v)
	}
	// Apart from the echoed username, the pages are identical.
	if strings.ReplaceAll(wrong.body, "carol", "X") != strings.ReplaceAll(unknown.body, "nobody", "X") {
		t.Fatal("wrong password and unknown user produce different pages")
	}
	if setCookie(wrong, cookieName) != nil {
		t.Fatal("a failed login set a session cookie")
	}
}

func TestAttackHTMLInjectionInUsername(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	evil := `"><script>alert(1)</script>`
	r := newBrowser(t, a.URL).login(evil, "whatever-pw")
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if strings.Contains(r.body, "<script>") {
		t.Fatal("username echoed unescaped")
	}
	d := doc(t, r)
	if !onlyStaticScripts(d) {
		t.Fatal("a script element other than the app's own file reached the page")
	}
	if v, _ := d.Find("#username").Attr("value"); v != evil {
		t.Fatalf("got value %q, want the text as typed", v)
	}
}

func TestAttackPasswordGuessing(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{trustedProxies: localProxy, now: clock.now})
	wantRedirect(t, newBrowser(t, a.URL).signup("victim", "password-1"), "/dashboard")

	attacker := newBrowser(t, a.URL)
	for i := range 5 {
		r := attacker.loginFrom("203.0.113.9", "victim", fmt.Sprintf("guess-%d", i))
		wantStatus(t, r, http.StatusUnprocessableEntity)
	}
	// The sixth attempt, even with the right password, is refused.
	r := attacker.loginFrom("203.0.113.9", "victim", "password-1")
	wantStatus(t, r, http.StatusTooManyRequests)
	if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("got Retry-After %q", ra)
	}
	d := doc(t, r)
	if got := text(d, "#form-error"); !strings.Contains(got, "Too many failed sign-in attempts") {
		t.Fatalf("got message %q", got)
	}
	if v, _ := d.Find("#username").Attr("value"); v != "victim" {
		t.Fatalf("username not kept: %q", v)
	}
	// The JSON API shares the limit.
	r = attacker.postJSONFrom("203.0.113.9", "/auth/login", `{"username":"VICTIM","password":"x"}`)
	wantStatus(t, r, http.StatusTooManyRequests)
	if m := jsonBody(t, r); !strings.Contains(fmt.Sprint(m["error"]), "Too many") {
		t.Fatalf("got %v", m)
	}

	// The owner, from another IP, is not locked out: after the first
	// backoff step (1 s) the correct password works.
	clock.advance(time.Second)
	wantRedirect(t, newBrowser(t, a.URL).loginFrom("198.51.100.7", "victim", "password-1"), "/dashboard")
	// Other accounts from the attacker's IP still work too.
	wantRedirect(t, newBrowser(t, a.URL).signup("bystander", "password-1"), "/dashboard")
	wantRedirect(t, newBrowser(t, a.URL).loginFrom("203.0.113.9", "bystander", "password-1"), "/dashboard")
}

// TestXForwardedForIgnoredFromUntrustedPeers: without TRUSTED_PROXIES a
// client cannot dodge the limits by inventing X-Forwarded-For addresses.
func TestAttackSpoofedXForwardedFor(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	for i := range 5 {
		wantStatus(t, b.loginFrom(fmt.Sprintf("192.0.2.%d", i), "someone", "wrong-pass"), http.StatusUnprocessableEntity)
	}
	wantStatus(t, b.loginFrom("192.0.2.99", "someone", "wrong-pass"), http.StatusTooManyRequests)
}

func TestAttackCredentialStuffingFromOneIP(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{maxPerIP: 3})
	b := newBrowser(t, a.URL)
	for i := range 3 {
		wantStatus(t, b.login(fmt.Sprintf("user%d", i), "wrong-pass"), http.StatusUnprocessableEntity)
	}
	wantStatus(t, b.login("user9", "wrong-pass"), http.StatusTooManyRequests)
}

// TestThrottlingSharedAcrossInstances: failures counted on instance A
// block the attempt on instance B.
func TestAttackGuessingAcrossInstances(t *testing.T) {
	t.Parallel()
	be := newBackends(t)
	a, b := newApp(t, be, options{}), newApp(t, be, options{})
	onA, onB := newBrowser(t, a.URL), newBrowser(t, b.URL)
	for range 3 {
		wantStatus(t, onA.login("shared", "wrong-pass"), http.StatusUnprocessableEntity)
	}
	for range 2 {
		wantStatus(t, onB.login("shared", "wrong-pass"), http.StatusUnprocessableEntity)
	}
	wantStatus(t, onA.login("shared", "wrong-pass"), http.StatusTooManyRequests)
	wantStatus(t, onB.login("shared", "wrong-pass"), http.StatusTooManyRequests)
}

// TestAttackTokenGuessing: an IP sending many unknown session cookies is
// logged and, past the limit, its unknown cookies get 429 and are cleared.
// A valid session from the same IP keeps working (TestStaleCookieNeverLocksOut
// has why).
func TestAttackTokenGuessing(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{guessLimit: 5})
	owner := newBrowser(t, a.URL)
	wantRedirect(t, owner.signup("owner", "password-1"), "/dashboard")
	valid := owner.cookie(cookieName)

	guess := func(token string) response {
		req, _ := http.NewRequest(http.MethodGet, a.URL+"/dashboard", nil)
		req.AddCookie(&http.Cookie{Name: cookieName, Value: token})
		return newBrowser(t, a.URL).do(req)
	}
	for i := range 5 {
		r := guess(fmt.Sprintf("%043d", i))
		wantRedirect(t, r, "/login")
		if c := setCookie(r, cookieName); c == nil || c.MaxAge >= 0 {
			t.Fatalf("unknown cookie not cleared: %+v", c)
		}
	}
	r := guess(fmt.Sprintf("%043d", 99))
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// The right token still works from this IP: a 256-bit token cannot
	// be guessed, so refusing valid sessions would buy nothing.
	wantStatus(t, guess(valid), http.StatusOK)
	// Requests without a cookie are not affected.
	wantStatus(t, newBrowser(t, a.URL).get("/login"), http.StatusOK)
}

// TestTamperedSessionData: garbage stored under a session's key in Redis
// makes the request anonymous, not a 500.
func TestAttackTamperedSessionData(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("tampered", "password-1"), "/dashboard")
	keys := sessionKeys(t, a, 1)
	c := a.pool.Get()
	defer c.Close()
	if _, err := c.Do("SET", keys[0], "\xff\x00garbage not gob"); err != nil {
		t.Fatal(err)
	}
	wantRedirect(t, b.get("/dashboard"), "/login")
	wantStatus(t, b.get("/api/dashboard"), http.StatusUnauthorized)
}

func TestAttackCSRF(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("grace", "password-1"), "/dashboard")

	for _, tt := range []struct {
		name    string
		headers map[string]string
	}{
		{"sec-fetch-site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"sec-fetch-site same-site", map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"foreign origin", map[string]string{"Origin": "http://evil.example.test"}},
	} {
		for _, path := range []string{"/logout", "/login", "/auth/logout"} {
			req, _ := http.NewRequest(http.MethodPost, a.URL+path, strings.NewReader("username=x&password=y"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			r := b.do(req)
			if r.StatusCode != http.StatusForbidden {
				t.Errorf("%s POST %s: got %d, want 403", tt.name, path, r.StatusCode)
			}
		}
	}
	// Still signed in.
	wantStatus(t, b.get("/dashboard"), http.StatusOK)
}

// TestAttackOriginThatIsNotAnOrigin: net/http's cross-origin check compares
// only the host of whatever URL the Origin header holds. An Origin that is
// not a serialised origin (user info before the host, a path, a scheme
// other than http and https) must be refused, not taken for this site.
func TestAttackOriginThatIsNotAnOrigin(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("origin", "password-1"), "/dashboard")
	host := strings.TrimPrefix(a.URL, "http://")
	for _, origin := range []string{
		"http://evil.example@" + host,
		"http://user:pw@" + host,
		a.URL + "/path",
		a.URL + "?q=1",
		"ftp://" + host,
		"javascript://" + host,
		"HTTP://" + host,
		a.URL + "#frag",
	} {
		for _, path := range []string{"/auth/logout", "/logout"} {
			req, _ := http.NewRequest(http.MethodPost, a.URL+path, nil)
			req.Header.Set("Origin", origin)
			if r := b.do(req); r.StatusCode != http.StatusForbidden {
				t.Errorf("Origin %q, POST %s: got %d, want 403", origin, path, r.StatusCode)
			}
		}
	}
	// Two Origin headers are no origin either.
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/auth/logout", nil)
	req.Header["Origin"] = []string{a.URL, a.URL}
	wantStatus(t, b.do(req), http.StatusForbidden)
	// Still signed in; and the site's own origin still works.
	wantStatus(t, b.get("/dashboard"), http.StatusOK)
	req, _ = http.NewRequest(http.MethodPost, a.URL+"/auth/logout", nil)
	req.Header.Set("Origin", a.URL)
	wantStatus(t, b.do(req), http.StatusOK)
}

func TestAttackClickjackingAndXSSHeaders(t *testing.T) {
	t.Parallel()
	for _, prod := range []bool{false, true} {
		a := newApp(t, newBackends(t), options{production: prod})
		for _, path := range []string{"/login", "/signup", "/no-such-page", "/healthz", "/static/css/main.css", "/api/dashboard"} {
			r := newBrowser(t, a.URL).get(path)
			h := r.Header
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "style-src 'self'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("%s: CSP %q lacks %q", path, csp, want)
				}
			}
			// One script file of this origin (static/js/passkey.js), and
			// no inline code.
			if strings.Contains(csp, "unsafe-") || !strings.Contains(csp, "script-src 'self';") {
				t.Errorf("%s: CSP %q allows inline code or scripts from elsewhere", path, csp)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s: nosniff: got %q", path, got)
			}
			if got := h.Get("Referrer-Policy"); got != "same-origin" {
				t.Errorf("%s: Referrer-Policy: got %q", path, got)
			}
			hsts := h.Get("Strict-Transport-Security")
			if prod != (hsts != "") {
				t.Errorf("%s production=%v: got HSTS %q", path, prod, hsts)
			}
		}
	}
}

func TestAttackCookieTheftProductionAttributes(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{production: true})
	r := newBrowser(t, a.URL).postJSON("/auth/register", `{"username":"heidi","password":"password-1"}`)
	wantStatus(t, r, http.StatusCreated)
	r = newBrowser(t, a.URL).postJSON("/auth/login", `{"username":"heidi","password":"password-1"}`)
	wantStatus(t, r, http.StatusOK)
	c := setCookie(r, "__Host-gatehouse_session")
	if c == nil || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("got %+v, want a Secure, HttpOnly, host-only __Host- cookie with Path=/", c)
	}
}

func TestAttackOversizedBodies(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	big := strings.Repeat("a", 70<<10)
	for _, tt := range []struct {
		path, ctype, body string
		chunked           bool
	}{
		{"/login", "application/x-www-form-urlencoded", "username=" + big, false},
		{"/login", "application/x-www-form-urlencoded", "username=" + big, true},
		{"/auth/login", "application/json", `{"username":"` + big + `"}`, false},
		{"/auth/login", "application/json", `{"username":"` + big + `"}`, true},
	} {
		req, _ := http.NewRequest(http.MethodPost, a.URL+tt.path, strings.NewReader(tt.body))
		if tt.chunked {
			// Hide the length so that only reading finds the excess.
			req.ContentLength = -1
			req.Body = io.NopCloser(struct{ io.Reader }{strings.NewReader(tt.body)})
		}
		req.Header.Set("Content-Type", tt.ctype)
		r := newBrowser(t, a.URL).do(req)
		if r.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s chunked=%v: got %d, want 413", tt.path, tt.chunked, r.StatusCode)
		}
	}
}

func TestAttackMalformedInput(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	cases := []struct {
		method, path, ctype, body string
		cookie                    string
	}{
		{"POST", "/login", "application/x-www-form-urlencoded", "%zz=%%%", ""},
		{"POST", "/signup", "multipart/form-data; boundary=x", "--x\r\ngarbage", ""},
		{"POST", "/login", "", "", ""},
		{"GET", "/dashboard", "", "", "not-a-token"},
		{"GET", "/dashboard", "", "", strings.Repeat("z", 4000)},
		{"GET", "/dashboard", "", "", strings.Repeat("A", 43)},
		{"POST", "/auth/login", "application/json", "{", ""},
		{"POST", "/auth/login", "application/json", `{"username":"\ud800","password":"x"}`, ""},
		{"DELETE", "/login", "", "", ""},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, a.URL+c.path, strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		if c.cookie != "" {
			req.AddCookie(&http.Cookie{Name: cookieName, Value: c.cookie})
		}
		r := newBrowser(t, a.URL).do(req)
		if r.StatusCode >= 500 {
			t.Errorf("%s %s %q: got %d", c.method, c.path, c.body, r.StatusCode)
		}
	}
}

// TestAttackLoginFlood: a burst of logins larger than the hashing slots
// gets polite 503s with Retry-After, never a 500, so memory stays bounded.
func TestAttackLoginFlood(t *testing.T) {
	t.Parallel()
	// The production parameters: a hash takes tens of milliseconds.
	owasp := password.OWASP
	a := newApp(t, newBackends(t), options{hashSlots: 1, hashWait: time.Millisecond, maxPerIP: 1000, maxPerAccount: 1000, hashParams: &owasp})
	wantRedirect(t, newBrowser(t, a.URL).signup("popular", "password-1"), "/dashboard")
	const n = 12
	codes := make(chan response, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { codes <- newBrowser(t, a.URL).login("popular", "password-1") })
	}
	wg.Wait()
	close(codes)
	busy := 0
	for r := range codes {
		switch r.StatusCode {
		case http.StatusSeeOther:
		case http.StatusServiceUnavailable:
			busy++
			if r.Header.Get("Retry-After") == "" || !strings.Contains(r.body, "great many sign-ins") {
				t.Errorf("busy answer without Retry-After or message: %v %.200s", r.Header, r.body)
			}
		default:
			t.Errorf("got %d", r.StatusCode)
		}
	}
	if busy == 0 {
		t.Fatal("no login was turned away with 1 slot and a 1 ms queue")
	}
}

// TestAttackLoginFloodRefusedEarly: attempts beyond what the hashing
// slots can finish within the queueing time are refused before they cost
// anything else, a Redis script or a MongoDB lookup, so that a flood takes
// no more CPU from page views than its hashes do.
func TestAttackLoginFloodRefusedEarly(t *testing.T) {
	t.Parallel()
	owasp := password.OWASP
	var reached atomic.Int64
	a := newApp(t, newBackends(t), options{hashSlots: 1, hashWait: 200 * time.Millisecond, maxPerIP: 1000, maxPerAccount: 1000,
		hashParams: &owasp, wrapUsers: func(u web.Users) web.Users {
			return countedUsers{Users: u, authenticate: &reached}
		}})
	wantRedirect(t, newBrowser(t, a.URL).signup("popular", "password-1"), "/dashboard")
	// One sign-in times a hash, so that the queue knows its speed.
	wantRedirect(t, newBrowser(t, a.URL).login("popular", "password-1"), "/dashboard")
	reached.Store(0)
	const n = 40
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { codes <- newBrowser(t, a.URL).login("popular", "password-1").StatusCode })
	}
	wg.Wait()
	close(codes)
	busy := 0
	for c := range codes {
		if c == http.StatusServiceUnavailable {
			busy++
		} else if c != http.StatusSeeOther {
			t.Errorf("got %d", c)
		}
	}
	// One slot, a queue of 200 ms and hashes of tens of milliseconds
	// admit a handful; before, all 40 were looked up in MongoDB.
	if got := reached.Load(); got >= n || busy == 0 {
		t.Fatalf("%d of %d attempts reached the user store, %d got 503: the flood was not refused early", got, n, busy)
	}
	t.Logf("%d of %d attempts reached the user store; %d got 503", reached.Load(), n, busy)
}

// countedUsers counts the calls to Authenticate.
type countedUsers struct {
	web.Users
	authenticate *atomic.Int64
}

func (c countedUsers) Authenticate(ctx context.Context, username, password string) (*user.User, error) {
	c.authenticate.Add(1)
	return c.Users.Authenticate(ctx, username, password)
}

// TestAttackCommonPassword: the passwords attackers try first (Django's
// list of the 20,000 most common, in any case) are refused at sign-up,
// on the form and in the JSON API, with a message that says what to do.
func TestAttackCommonPassword(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	const msg = "Choose a less common password: a phrase of a few words that others would not guess"
	for _, pw := range []string{"password123", "Password123", "QWERTYUIOP"} {
		r := newBrowser(t, a.URL).signup("hopeful", pw)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if got := fieldError(doc(t, r), "password"); got != msg {
			t.Errorf("form, %q: got %q, want %q", pw, got, msg)
		}
		r = newBrowser(t, a.URL).postJSON("/auth/register", `{"username":"hopeful","password":"`+pw+`"}`)
		wantStatus(t, r, http.StatusBadRequest)
		if got := jsonBody(t, r)["error"]; got != msg {
			t.Errorf("JSON, %q: got %q, want %q", pw, got, msg)
		}
	}
	wantRedirect(t, newBrowser(t, a.URL).signup("hopeful", "a longer phrase of mine"), "/dashboard")
}

// TestAttackBreachedPassword: with PWNED_PASSWORDS_URL set, a password
// found in a data breach (credential stuffing's raw material) is refused
// at sign-up, while the range API sees only 5 hex characters of its
// SHA-1.
func TestAttackBreachedPassword(t *testing.T) {
	t.Parallel()
	const breached = "stuffed-credential-9"
	sum := sha1.Sum([]byte(breached))
	hash := strings.ToUpper(hex.EncodeToString(sum[:]))
	var mu sync.Mutex
	var asked []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.RequestURI())
		mu.Unlock()
		if r.URL.Path == "/range/"+hash[:5] {
			fmt.Fprintf(w, "%s:3\r\n", hash[5:])
		}
		fmt.Fprintf(w, "%035X:0\r\n", 1)
	}))
	t.Cleanup(api.Close)
	a := newApp(t, newBackends(t), options{pwnedURL: api.URL})

	const msg = "Choose a different password: this one has appeared in a data breach"
	r := newBrowser(t, a.URL).signup("ophelia", breached)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if got := fieldError(doc(t, r), "password"); got != msg {
		t.Errorf("form: got %q, want %q", got, msg)
	}
	r = newBrowser(t, a.URL).postJSON("/auth/register", `{"username":"ophelia","password":"`+breached+`"}`)
	wantStatus(t, r, http.StatusBadRequest)
	if got := jsonBody(t, r)["error"]; got != msg {
		t.Errorf("JSON: got %q, want %q", got, msg)
	}
	wantRedirect(t, newBrowser(t, a.URL).signup("ophelia", "never-leaked-phrase"), "/dashboard")

	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 3 {
		t.Fatalf("the range API was asked %d times, want 3: %q", len(asked), asked)
	}
	for _, p := range asked {
		if len(p) != len("/range/")+5 || !strings.HasPrefix(p, "/range/") || strings.Contains(p, hash[:6]) {
			t.Errorf("the range API got %q, want /range/ and 5 hex characters", p)
		}
	}
}

// TestAttackConfusableUsername: an impostor registers a name that looks
// like someone else's. y1234 and у1234 (with a Cyrillic у, U+0443, which
// looks like y) share a confusable skeleton (UTS #39), so the second is
// "taken", on the form and in the JSON API alike; a name that mixes
// alphabets is refused outright.
func TestAttackConfusableUsername(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	wantRedirect(t, newBrowser(t, a.URL).signup("y1234", "password-1"), "/dashboard")
	wantRedirect(t, newBrowser(t, a.URL).signup("paypal", "password-1"), "/dashboard")
	for _, name := range []string{"\u04431234", "Yl234"} { // у1234 with a Cyrillic у; l for 1
		r := newBrowser(t, a.URL).signup(name, "password-1")
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if got := fieldError(doc(t, r), "username"); got != "Choose another username: that one is taken" {
			t.Errorf("form, %q: got %q, want %q", name, got, "Choose another username: that one is taken")
		}
		r = newBrowser(t, a.URL).postJSON("/auth/register", `{"username":"`+name+`","password":"password-1"}`)
		wantStatus(t, r, http.StatusConflict)
		if got := jsonBody(t, r)["error"]; got != "Choose another username: that one is taken" {
			t.Errorf("JSON, %q: got %q, want %q", name, got, "Choose another username: that one is taken")
		}
	}
	// Cyrillic р, а and у with a Latin l: refused for mixing alphabets.
	const mixed = "\u0440\u0430\u0443\u0440\u0430l"
	r := newBrowser(t, a.URL).signup(mixed, "password-1")
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if got := fieldError(doc(t, r), "username"); got != "Use letters from one alphabet only" {
		t.Errorf("form, %q: got %q, want %q", mixed, got, "Use letters from one alphabet only")
	}
	r = newBrowser(t, a.URL).postJSON("/auth/register", `{"username":"`+mixed+`","password":"password-1"}`)
	wantStatus(t, r, http.StatusBadRequest)
	// The owner still signs in by name, in any case.
	wantRedirect(t, newBrowser(t, a.URL).login("Y1234", "password-1"), "/dashboard")
}
