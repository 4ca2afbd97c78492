package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserSignupDashboardLogout is the whole visit of a new user: start
// page, signup, dashboard, sign out, and the Back button after it.
func TestBrowserSignupDashboardLogout(t *testing.T) {
	base, _ := startApp(t)
	b := newBrowser(t)

	b.open(base + "/")
	b.wantPath("/login")
	b.wantText("h1", "Sign in")
	b.shot("login")

	b.load(chromedp.Click(chromedp.CSS(`main a[href="/signup"]`)))
	b.wantPath("/signup")
	b.wantText("h1", "Create an account")
	b.fill("username", "ada")
	b.fill("password", "correct horse battery")
	b.fill("password_confirm", "correct horse battery")
	b.shot("signup")
	if resp := b.submit(); resp.Status != http.StatusOK {
		t.Fatalf("signup: got %d, want 200", resp.Status)
	}
	b.wantPath("/dashboard")
	b.wantText("dd#username", "ada")
	b.wantText("dd#role", "user")
	b.wantText("#flash", "Welcome! Your account is ready and you are signed in.")
	b.shot("dashboard")

	b.load(chromedp.Click(chromedp.CSS("header nav button[type=submit]")))
	b.wantPath("/login?signed_out=1")
	b.wantText("#flash", "You have been signed out.")
	b.shot("signed-out")

	// Back goes to the history entry of the dashboard. The dashboard is
	// no-store, so the browser asks the server again, which now sends it
	// to the login page; a copy from a cache would show the dashboard.
	hist := get(b, chromedp.NavigationEntries())
	if i := hist.CurrentIndex; i < 1 || !strings.HasSuffix(hist.Entries[i-1].URL, "/dashboard") {
		t.Fatalf("the page before this one is not the dashboard: %+v", hist.Entries)
	}
	how := b.back()
	b.shot("back")
	if n := b.count("dd#username"); n != 0 {
		t.Fatalf("Back after sign-out shows the dashboard's content again (%s, %s)", b.path(), how)
	}
	b.wantPath("/login")
	b.wantText("h1", "Sign in")

	b.open(base + "/dashboard")
	b.wantPath("/login")
	if n := b.count("dd#username"); n != 0 {
		t.Fatal("the dashboard is shown after sign-out")
	}
}

// TestBrowserBadCredentials: mistakes are named in the form, which keeps
// what the person typed except passwords.
func TestBrowserBadCredentials(t *testing.T) {
	base, _ := startApp(t)
	register(t, base, "grace", "correct horse battery")
	b := newBrowser(t)

	logInFails := func(name, username, password string) {
		t.Helper()
		b.open(base + "/login")
		b.fill("username", username)
		b.fill("password", password)
		if resp := b.submit(); resp.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s: got %d, want 422", name, resp.Status)
		}
		b.wantPath("/login")
		b.wantText("#form-error", "Check your username and password: they do not match an account")
		if got := get(b, chromedp.Value(chromedp.ID("username"))); got != username {
			t.Errorf("%s: username field: got %q, want %q", name, got, username)
		}
		if got := get(b, chromedp.Value(chromedp.ID("password"))); got != "" {
			t.Errorf("%s: the password field was filled in again", name)
		}
		b.shot(name)
	}
	logInFails("wrong-password", "grace", "wrong horse battery")
	logInFails("unknown-user", "nobody", "correct horse battery")

	signupFails := func(name, username, password, confirm, field, want string) {
		t.Helper()
		b.open(base + "/signup")
		b.fill("username", username)
		b.fill("password", password)
		b.fill("password_confirm", confirm)
		if resp := b.submit(); resp.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s: got %d, want 422", name, resp.Status)
		}
		b.wantPath("/signup")
		b.wantErr(field, want)
		if got := get(b, chromedp.AttributeValue(chromedp.ID(field), "aria-invalid")); got.Value != "true" {
			t.Errorf("%s: #%s is not marked aria-invalid", name, field)
		}
		if got := get(b, chromedp.Value(chromedp.ID("username"))); got != username {
			t.Errorf("%s: username field: got %q, want %q", name, got, username)
		}
		b.shot(name)
	}
	signupFails("mismatch", "hopper", "correct horse battery", "correct horse batterie",
		"password_confirm", "Enter the same password in both fields")
	signupFails("too-short", "hopper", "short", "short",
		"password", "Enter a password of at least 8 characters")
	signupFails("taken", "grace", "another horse battery", "another horse battery",
		"username", "Choose another username: that one is taken")
}

// TestBrowserKeyboardOnly signs in without a mouse: from the signup page,
// Tab through its form to the link to the login page, Enter, then Tab to
// each field, type, and Enter.
func TestBrowserKeyboardOnly(t *testing.T) {
	base, _ := startApp(t)
	register(t, base, "linus", "correct horse battery")
	b := newBrowser(t)

	b.open(base + "/signup")
	b.tabTo("a Sign in")
	b.load(chromedp.KeyEvent(kb.Enter))
	b.wantPath("/login")
	b.tabTo("username")
	b.do(chromedp.KeyEvent("linus"))
	b.tabTo("password")
	b.do(chromedp.KeyEvent("correct horse battery"))
	// What the keys typed, so that a lost keystroke fails here, clearly,
	// rather than as a 422 from the server.
	typed := get(b, chromedp.Evaluate[[]string](`[document.getElementById("username").value, document.getElementById("password").value]`))
	if len(typed) != 2 || typed[0] != "linus" || typed[1] != "correct horse battery" {
		t.Fatalf("the fields hold %q, want linus and the password", typed)
	}
	if resp := b.load(chromedp.KeyEvent(kb.Enter)); resp.Status != http.StatusOK {
		t.Fatalf("Enter in the login form: got %d, want 200", resp.Status)
	}
	b.wantPath("/dashboard")
	b.wantText("dd#username", "linus")
	b.shot("dashboard")
}

// tabTo presses Tab until the focused element is want: its id, or for an
// element without one its tag and text ("a Sign in"). It fails after a
// dozen presses. The path is logged, so a failure shows the order in which
// the page passes the focus.
func (b *browser) tabTo(want string) {
	b.t.Helper()
	const focused = `(() => {
		const e = document.activeElement;
		if (!e || e === document.body) return "body";
		return e.id || e.tagName.toLowerCase() + " " + e.textContent.trim();
	})()`
	var path []string
	for range 12 {
		got := get(b, chromedp.Evaluate[string](focused))
		path = append(path, got)
		if got == want {
			b.t.Logf("focus path to %s: %s", want, strings.Join(path, " → "))
			return
		}
		b.do(chromedp.KeyEvent(kb.Tab))
	}
	b.t.Fatalf("Tab never reached %s; the focus went %s", want, strings.Join(path, " → "))
}
