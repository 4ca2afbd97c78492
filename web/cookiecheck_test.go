package web_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// TestPlainHTTPSignInExplained: in production the session cookie is
// Secure, and a browser on a plain-HTTP page at any host but localhost
// drops it. A sign-in posted from such a page goes through /login/check,
// which explains when the cookie did not come back instead of showing the
// sign-in form again, and sends a browser that kept it on its way.
func TestPlainHTTPSignInExplained(t *testing.T) {
	t.Parallel()
	b := newBackends(t)
	a := newApp(t, b, options{production: true})
	if _, err := a.users.Register(t.Context(), "ada", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	r := newBrowser(t, a.URL).postForm("/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}, "next": {"/account/sessions"}})
	wantRedirect(t, r, "/login/check?next=%2Faccount%2Fsessions")
	// A browser at a host other than localhost drops the cookie. (Go's
	// cookie jar, like browsers, keeps it for the test's 127.0.0.1: a
	// fresh jar stands for the browser that dropped it.)
	r = newBrowser(t, a.URL).get("/login/check?next=%2Faccount%2Fsessions")
	wantStatus(t, r, http.StatusOK)
	d := doc(t, r)
	if got := text(d, "#reason"); got != "Your browser refused the session cookie because this site is not served over HTTPS." {
		t.Fatalf("the check page says %q", got)
	}
	if !strings.Contains(text(d, "main"), "TLS") {
		t.Error("the check page does not say what to do")
	}

	// The same sign-in from an https page goes straight on.
	tls := newBrowser(t, a.URL)
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/login", strings.NewReader("username=ada&password=correct+horse+battery"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://gatehouse.example")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	r = tls.do(req)
	wantRedirect(t, r, "/dashboard")
	cookie := setCookie(r, "__Host-gatehouse_session")
	if cookie == nil {
		t.Fatal("no session cookie")
	}

	// A browser that kept the cookie passes the check, to a local next
	// only.
	for next, want := range map[string]string{"%2Faccount%2Fsessions": "/account/sessions", "%2F%2Fevil.example": "/dashboard", "": "/dashboard"} {
		req, _ = http.NewRequest(http.MethodGet, a.URL+"/login/check?next="+next, nil)
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
		wantRedirect(t, newBrowser(t, a.URL).do(req), want)
	}

	// Sign-up signs in too, and takes the same way.
	r = newBrowser(t, a.URL).signup("grace", "another horse battery")
	wantRedirect(t, r, "/login/check?next=%2Fdashboard")

	// In development the cookie is not Secure: no check, and the check's
	// page has nothing to explain.
	dev := newApp(t, b, options{})
	wantRedirect(t, newBrowser(t, dev.URL).login("ada", "correct horse battery"), "/dashboard")
	wantRedirect(t, newBrowser(t, dev.URL).get("/login/check"), "/login")

	// Start-up says so when production has no TLS proxy to trust.
	const warning = "production without TRUSTED_PROXIES"
	if !strings.Contains(a.logs.String(), warning) {
		t.Errorf("production without TRUSTED_PROXIES: no warning at start-up; log:\n%s", a.logs)
	}
	proxied := newApp(t, b, options{production: true, trustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	for _, x := range []*app{dev, proxied} {
		if strings.Contains(x.logs.String(), warning) {
			t.Errorf("a warning about TRUSTED_PROXIES where it does not apply:\n%s", x.logs)
		}
	}
}
