package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	cookieName       = "gatehouse_session"
	deviceCookieName = "gatehouse_device"
)

func TestSignupDashboardLogout(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)

	wantRedirect(t, b.get("/"), "/login")
	wantRedirect(t, b.get("/dashboard"), "/login")

	r := b.signup("Alice", "correct horse")
	wantRedirect(t, r, "/dashboard")
	c := setCookie(r, cookieName)
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
		t.Fatalf("got cookie %+v, want HttpOnly, SameSite=Lax, Path=/, not Secure in development", c)
	}
	if c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Fatalf("got MaxAge %d Expires %v, want a browser-session cookie", c.MaxAge, c.Expires)
	}

	r = b.get("/dashboard")
	wantStatus(t, r, http.StatusOK)
	d := doc(t, r)
	if got := text(d, "#username"); got != "Alice" {
		t.Fatalf("dashboard username: got %q, want Alice", got)
	}
	if got := text(d, "#role"); got != "user" {
		t.Fatalf("dashboard role: got %q, want user", got)
	}
	if got := text(d, "#flash"); !strings.Contains(got, "Welcome") {
		t.Fatalf("flash: got %q, want the welcome message", got)
	}
	if d.Find(`nav form[action="/logout"][method="post"] button`).Length() != 1 {
		t.Fatal("no logout button in the navigation")
	}
	if got := r.Header.Get("Cache-Control"); !strings.Contains(got, "no-store") {
		t.Fatalf("dashboard Cache-Control: got %q, want no-store", got)
	}
	// The flash shows once.
	if got := text(doc(t, b.get("/dashboard")), "#flash"); got != "" {
		t.Fatalf("flash shown twice: %q", got)
	}
	wantRedirect(t, b.get("/"), "/dashboard")
	wantRedirect(t, b.get("/login"), "/dashboard")
	// Error pages know who is signed in.
	r = b.get("/no-such-page")
	wantStatus(t, r, http.StatusNotFound)
	if doc(t, r).Find(`nav form[action="/logout"]`).Length() != 1 {
		t.Fatal("404 page of a signed-in user has no logout button")
	}

	old := b.cookie(cookieName)
	r = b.postForm("/logout", nil)
	wantRedirect(t, r, "/login?signed_out=1")
	if c := setCookie(r, cookieName); c == nil || c.MaxAge >= 0 {
		t.Fatalf("logout: got cookie %+v, want it expired", c)
	}
	r = b.get("/login?signed_out=1")
	wantStatus(t, r, http.StatusOK)
	if got := text(doc(t, r), "#flash"); got != "You have been signed out." {
		t.Fatalf("login flash: got %q", got)
	}
	wantRedirect(t, b.get("/dashboard"), "/login")

	// Replaying the old cookie after logout is anonymous.
	replay := newBrowser(t, a.URL)
	req, _ := http.NewRequest(http.MethodGet, a.URL+"/dashboard", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: old})
	wantRedirect(t, replay.do(req), "/login")
}

func TestLoginKeepsSessionAndRotatesToken(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("bob", "password-1"), "/dashboard")
	b.postForm("/logout", nil)
	wantRedirect(t, b.login("bob", "password-1"), "/dashboard")
	if !strings.Contains(doc(t, b.get("/dashboard")).Find("dl").Text(), "first sign-in") {
		t.Fatal("first password sign-in not shown as the first")
	}
	b.postForm("/logout", nil)

	// A visit that creates an anonymous session (the flash after signup
	// does) must not keep its token through login.
	b2 := newBrowser(t, a.URL)
	// Plant a token, as an attacker fixing the session would.
	planted := strings.Repeat("A", 43)
	u, _ := url.Parse(a.URL)
	b2.c.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: planted, Path: "/"}})
	r := b2.login("BOB", "password-1")
	wantRedirect(t, r, "/dashboard")
	if got := b2.cookie(cookieName); got == planted || got == "" {
		t.Fatalf("cookie after login: got %q, want a new token", got)
	}
	r = b2.get("/dashboard")
	wantStatus(t, r, http.StatusOK)
	d := doc(t, r)
	if got := text(d, "#username"); got != "bob" {
		t.Fatalf("got %q, want the name as registered", got)
	}
	if strings.Contains(d.Find("dl").Text(), "first sign-in") {
		t.Fatal("second sign-in shown as the first")
	}
}

func TestFormErrors(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	wantRedirect(t, newBrowser(t, a.URL).signup("taken", "password-1"), "/dashboard")

	tests := []struct {
		name  string
		path  string
		form  url.Values
		field string
		want  string
	}{
		{"mismatch", "/signup", url.Values{"username": {"dave"}, "password": {"password-1"}, "password_confirm": {"password-2"}}, "password_confirm", "Enter the same password in both fields"},
		{"short password", "/signup", url.Values{"username": {"dave"}, "password": {"short"}, "password_confirm": {"short"}}, "password", "Enter a password of at least 8 characters"},
		{"long password", "/signup", url.Values{"username": {"dave"}, "password": {strings.Repeat("p", 257)}, "password_confirm": {strings.Repeat("p", 257)}}, "password", "Enter a password of at most 256 characters"},
		{"taken", "/signup", url.Values{"username": {"TAKEN"}, "password": {"password-1"}, "password_confirm": {"password-1"}}, "username", "Choose another username: that one is taken"},
		{"short username", "/signup", url.Values{"username": {"ab"}, "password": {"password-1"}, "password_confirm": {"password-1"}}, "username", "Enter a username of at least 3 characters"},
		{"bad characters", "/signup", url.Values{"username": {"a b c"}, "password": {"password-1"}, "password_confirm": {"password-1"}}, "username", "In your username, use only letters, digits, dots (.), dashes (-) and underscores (_)"},
		{"empty username", "/signup", url.Values{"password": {"password-1"}, "password_confirm": {"password-1"}}, "username", "Enter a username"},
		{"login no username", "/login", url.Values{"password": {"x"}}, "username", "Enter your username"},
		{"login no password", "/login", url.Values{"username": {"x"}}, "password", "Enter your password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newBrowser(t, a.URL).postForm(tt.path, tt.form)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			d := doc(t, r)
			if got := fieldError(d, tt.field); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if inv, _ := d.Find("#" + tt.field).Attr("aria-invalid"); inv != "true" {
				t.Fatalf("field %s not marked aria-invalid", tt.field)
			}
			if v, _ := d.Find("#username").Attr("value"); v != tt.form.Get("username") {
				t.Fatalf("username not kept: got %q, want %q", v, tt.form.Get("username"))
			}
			if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Fatalf("Cache-Control: got %q, want no-store", got)
			}
		})
	}
}

func TestPagesRender(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	tests := []struct {
		path   string
		status int
		title  string
	}{
		{"/login", 200, "Sign in · Gatehouse"},
		{"/signup", 200, "Create account · Gatehouse"},
		{"/no-such-page", 404, "Page not found · Gatehouse"},
		{"/static/", 404, ""},
	}
	for _, tt := range tests {
		r := newBrowser(t, a.URL).get(tt.path)
		wantStatus(t, r, tt.status)
		if tt.title == "" {
			continue
		}
		d := doc(t, r)
		if got := strings.TrimSpace(d.Find("title").Text()); got != tt.title {
			t.Errorf("%s: got title %q, want %q", tt.path, got, tt.title)
		}
		if d.Find("html[lang=en] main#main h1").Length() != 1 {
			t.Errorf("%s: want one h1 in main and a lang attribute", tt.path)
		}
	}
	// Forms have labels and the autocomplete hints password managers need.
	d := doc(t, newBrowser(t, a.URL).get("/signup"))
	for id, ac := range map[string]string{"username": "username", "password": "new-password", "password_confirm": "new-password"} {
		if got, _ := d.Find("#" + id).Attr("autocomplete"); got != ac {
			t.Errorf("signup %s autocomplete: got %q, want %q", id, got, ac)
		}
		if d.Find(`label[for="`+id+`"]`).Length() != 1 {
			t.Errorf("signup %s has no label", id)
		}
	}
	d = doc(t, newBrowser(t, a.URL).get("/login"))
	if got, _ := d.Find("#password").Attr("autocomplete"); got != "current-password" {
		t.Errorf("login password autocomplete: got %q", got)
	}
	r := newBrowser(t, a.URL).get("/static/css/main.css")
	wantStatus(t, r, 200)
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet Content-Type: got %q", r.Header.Get("Content-Type"))
	}
	wantStatus(t, newBrowser(t, a.URL).get("/static/static.go"), 404)
}
