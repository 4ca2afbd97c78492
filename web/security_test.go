package web_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestCrossOriginPostsRefused(t *testing.T) {
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

func TestSecurityHeaders(t *testing.T) {
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
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
				t.Errorf("%s: CSP %q allows scripts or inline code", path, csp)
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

func TestProductionCookie(t *testing.T) {
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

func TestBodyLimit(t *testing.T) {
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

func TestMalformedInputNever500(t *testing.T) {
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
