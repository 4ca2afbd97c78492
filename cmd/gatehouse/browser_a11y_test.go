package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// axeHint is the one line a developer without axe-core reads.
const axeHint = "axe-core not found: make tools (npm install --prefix .cache/axe axe-core@4.14.1, in the repository root)"

// axeViolation is what the test reads of one axe-core violation.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	HelpURL string   `json:"helpUrl"`
	Targets []string `json:"targets"`
}

// axeRun runs axe-core on the page and returns its violations. The page's
// CSP allows no script but the app's own file; Runtime.evaluate, which
// runs this, is not subject to it.
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
	id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
	targets: v.nodes.map(n => n.target.join(" ")),
})))`

// TestBrowserAccessibility runs axe-core on every kind of page: the forms,
// empty and with errors, the dashboard and an error page. A violation of
// impact serious or critical fails the test; the others are logged.
func TestBrowserAccessibility(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot(t), ".cache", "axe", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		testenv.SkipOrFail(t, axeHint)
	}
	base, env := startApp(t)
	register(t, base, "alan", "correct horse battery")
	// An admin sees every page there is.
	if _, err := runCLI(t, env, "", "user", "set-role", "alan", "admin"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)

	// axe returns the violations on the page that the browser shows.
	axe := func() []axeViolation {
		t.Helper()
		b.do(chromedp.Evaluate[chromedp.Void](string(src)))
		return get(b, chromedp.Evaluate[[]axeViolation](axeRun, chromedp.EvalAwaitPromise))
	}
	check := func(page string) {
		t.Helper()
		b.shot(page)
		for _, v := range axe() {
			msg := "%s: axe %s (%s): %s; %d element(s): %s; %s"
			args := []any{page, v.ID, v.Impact, v.Help, len(v.Targets), strings.Join(v.Targets, ", "), v.HelpURL}
			if v.Impact == "serious" || v.Impact == "critical" {
				t.Errorf(msg, args...)
			} else {
				t.Logf(msg, args...)
			}
		}
	}

	b.open(base + "/login")
	check("login")
	b.fill("username", "alan")
	b.fill("password", "wrong horse battery")
	b.submit()
	b.wantText("#form-error", "Check your username and password: they do not match an account")
	check("login-error")
	b.open(base + "/login")
	b.submit() // empty fields: an error under each
	b.wantErr("username", "Enter your username")
	check("login-empty")

	b.open(base + "/signup")
	check("signup")
	b.fill("username", "x")
	b.fill("password", "short")
	b.submit()
	b.wantErr("password", "Enter a password of at least 8 characters")
	check("signup-errors")

	b.open(base + "/no-such-page")
	b.wantText("h1", "Page not found")
	check("not-found")

	// The e-mail pages, with the mail read on /dev/mail (dev builds).
	if devBuild {
		resp, err := http.Post(base+"/auth/register", "application/json",
			strings.NewReader(`{"username":"mae","password":"correct horse battery","email":"mae@example.com"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		b.openMail(base, "Confirm your email address for Gatehouse")
		check("dev-mail-message")
		b.open(base + "/dev/mail")
		check("dev-mail")
		b.openMail(base, "Confirm your email address for Gatehouse")
		b.followMailLink("/email/verify")
		check("email-verify")
		b.submit()
		b.wantText("h1", "Email address confirmed")
		check("email-verified")
		b.open(base + "/password/forgot")
		check("forgot")
		b.submit()
		b.wantErr("login", "Enter your username or email address")
		check("forgot-errors")
		b.fill("login", "mae")
		b.submit()
		b.wantText("h1", "Check your email")
		check("forgot-sent")
		b.openMail(base, "Reset your Gatehouse password")
		b.followMailLink("/password/reset")
		check("reset")
		b.fill("new_password", "short")
		b.submit()
		b.wantErr("new_password", "Enter a password of at least 8 characters")
		check("reset-errors")
		b.open(base + "/password/reset?token=nope")
		b.wantText("h1", "This link cannot be used")
		check("link-invalid")
	}

	b.logIn(base, "alan", "correct horse battery")
	check("dashboard")

	b.open(base + "/account/sessions")
	b.wantText("h1", "Your sessions")
	check("sessions")
	b.open(base + "/account/password")
	b.wantText("h1", "Change your password")
	check("password")
	// Just signed in: the page does not ask for the current password.
	b.fill("new_password", "short")
	b.submit()
	b.wantErr("new_password", "Enter a password of at least 8 characters")
	check("password-errors")
	if devBuild {
		b.open(base + "/account/email")
		b.wantText("h1", "Your email address")
		check("email")
		b.fill("email", "not an address")
		b.submit()
		b.wantErr("email", "Enter an email address in the correct format, like name@example.com")
		check("email-errors")
	}
	b.open(base + "/account/sessions/revoke-others")
	b.wantText("h1", "Sign out all your other sessions?")
	check("confirm")
	b.open(base + "/admin/users")
	b.wantText("h1", "Users")
	check("admin-users")

	b.load(chromedp.Click(chromedp.CSS("header nav button[type=submit]")))
	b.wantText("#flash", "You have been signed out.")
	check("signed-out")

	// The harness sees a violation when there is one: an image without
	// alternative text is critical.
	b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("main").append(Object.assign(document.createElement("img"), {src: "/static/img/favicon.svg"}))`))
	found := false
	for _, v := range axe() {
		found = found || v.ID == "image-alt" && v.Impact == "critical"
	}
	if !found {
		t.Error("axe did not report an image without alt text")
	}
}
