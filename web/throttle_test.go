package web_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"
)

// fakeClock is a controllable clock shared by app instances.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Now()} }
func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// loginFrom posts the login form as if from ip, through a trusted proxy.
func (b *browser) loginFrom(ip, username, pw string) response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+"/login", strings.NewReader(url.Values{"username": {username}, "password": {pw}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	return b.do(req)
}

func (b *browser) postJSONFrom(ip, path, body string) response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	return b.do(req)
}

var localProxy = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

func TestBruteForceIsThrottledPerAccountAndIP(t *testing.T) {
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
func TestXForwardedForIgnoredFromUntrustedPeers(t *testing.T) {
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	for i := range 5 {
		wantStatus(t, b.loginFrom(fmt.Sprintf("192.0.2.%d", i), "someone", "wrong-pass"), http.StatusUnprocessableEntity)
	}
	wantStatus(t, b.loginFrom("192.0.2.99", "someone", "wrong-pass"), http.StatusTooManyRequests)
}

func TestIPLimit(t *testing.T) {
	a := newApp(t, newBackends(t), options{maxPerIP: 3})
	b := newBrowser(t, a.URL)
	for i := range 3 {
		wantStatus(t, b.login(fmt.Sprintf("user%d", i), "wrong-pass"), http.StatusUnprocessableEntity)
	}
	wantStatus(t, b.login("user9", "wrong-pass"), http.StatusTooManyRequests)
}

// TestThrottlingSharedAcrossInstances: failures counted on instance A
// block the attempt on instance B.
func TestThrottlingSharedAcrossInstances(t *testing.T) {
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

func TestSuccessfulLoginClearsAccountFailures(t *testing.T) {
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("forgetful", "password-1"), "/dashboard")
	for range 4 {
		wantStatus(t, newBrowser(t, a.URL).login("forgetful", "wrong-pass"), http.StatusUnprocessableEntity)
	}
	wantRedirect(t, newBrowser(t, a.URL).login("forgetful", "password-1"), "/dashboard")
	for range 4 {
		wantStatus(t, newBrowser(t, a.URL).login("forgetful", "wrong-pass"), http.StatusUnprocessableEntity)
	}
	wantRedirect(t, newBrowser(t, a.URL).login("forgetful", "password-1"), "/dashboard")
}

// TestSessionGuessing: an IP sending many unknown session cookies is
// refused, even for a cookie that would be valid, so guessing reveals
// nothing; the warning is logged once.
func TestSessionGuessing(t *testing.T) {
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
	// From this IP even the right token now gets 429: no oracle.
	wantStatus(t, guess(valid), http.StatusTooManyRequests)
	// Requests without a cookie are not affected.
	wantStatus(t, newBrowser(t, a.URL).get("/login"), http.StatusOK)
}

// TestTamperedSessionData: garbage stored under a session's key in Redis
// makes the request anonymous, not a 500.
func TestTamperedSessionData(t *testing.T) {
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("tampered", "password-1"), "/dashboard")
	c := a.pool.Get()
	defer c.Close()
	keys, err := redigo.Strings(c.Do("KEYS", "scs:session:*"))
	if err != nil || len(keys) != 1 {
		t.Fatalf("got keys %v, %v", keys, err)
	}
	if _, err := c.Do("SET", keys[0], "\xff\x00garbage not gob"); err != nil {
		t.Fatal(err)
	}
	wantRedirect(t, b.get("/dashboard"), "/login")
	wantStatus(t, b.get("/api/dashboard"), http.StatusUnauthorized)
}

func TestLogoutClearsSiteData(t *testing.T) {
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("tidy", "password-1"), "/dashboard")
	r := b.postForm("/logout", nil)
	if got := r.Header.Get("Clear-Site-Data"); got != `"cache", "cookies", "storage"` {
		t.Fatalf("form logout: got Clear-Site-Data %q", got)
	}
	wantStatus(t, b.postJSON("/auth/login", `{"username":"tidy","password":"password-1"}`), http.StatusOK)
	r = b.postJSON("/auth/logout", "")
	if got := r.Header.Get("Clear-Site-Data"); got != `"cache", "cookies", "storage"` {
		t.Fatalf("API logout: got Clear-Site-Data %q", got)
	}
}
