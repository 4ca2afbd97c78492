package web_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
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

func TestSuccessfulLoginClearsAccountFailures(t *testing.T) {
	t.Parallel()
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

func TestLogoutClearsSiteData(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("tidy", "password-1"), "/dashboard")
	r := b.postForm("/logout", nil)
	if got := r.Header.Get("Clear-Site-Data"); got != `"cache", "storage"` {
		t.Fatalf("form logout: got Clear-Site-Data %q", got)
	}
	wantStatus(t, b.postJSON("/auth/login", `{"username":"tidy","password":"password-1"}`), http.StatusOK)
	r = b.postJSON("/auth/logout", "")
	if got := r.Header.Get("Clear-Site-Data"); got != `"cache", "storage"` {
		t.Fatalf("API logout: got Clear-Site-Data %q", got)
	}
}
