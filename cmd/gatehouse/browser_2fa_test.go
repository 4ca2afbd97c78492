package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestBrowserTwoFactor sets up an authenticator app in Chromium, signs
// in with the password and then a recovery code, and runs axe-core on
// each new page: setting up, the recovery codes, the second step and the
// confirmation page that asks for a code. With UPDATE_SCREENSHOTS=1 it
// writes the README's screenshot of setting up.
func TestBrowserTwoFactor(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot(t), ".cache", "axe", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		testenv.SkipOrFail(t, axeHint)
	}
	base, _ := startApp(t)
	register(t, base, "tessa", "correct horse battery")
	b := newBrowser(t)
	check := func(page string) {
		t.Helper()
		b.shot(page)
		b.do(chromedp.Evaluate[chromedp.Void](string(src)))
		for _, v := range get(b, chromedp.Evaluate[[]axeViolation](axeRun, chromedp.EvalAwaitPromise)) {
			if v.Impact == "serious" || v.Impact == "critical" {
				t.Errorf("%s: axe %s (%s): %s: %s", page, v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "))
			} else {
				t.Logf("%s: axe %s (%s): %s", page, v.ID, v.Impact, v.Help)
			}
		}
	}

	b.logIn(base, "tessa", "correct horse battery")
	b.open(base + "/account/2fa")
	b.wantText("#status strong", "off")
	check("two-factor-off")
	b.submit()
	b.wantPath("/account/2fa/setup")
	secret := b.text("#totp-secret")
	if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
		png := get(b, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(repoRoot(t), "static", "screenshots", "two-factor-setup.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check("two-factor-setup")
	b.submit() // no code
	b.wantErr("code", "Enter the 6-digit code your authenticator app shows")
	check("two-factor-setup-error")
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.fill("code", code)
	b.submit()
	if n := b.count("#recovery-codes code"); n != 10 {
		t.Fatalf("got %d recovery codes, want 10", n)
	}
	recovery := b.text("#recovery-codes li:first-child code")
	check("recovery-codes")

	b.open(base + "/account/2fa/disable")
	check("two-factor-disable")

	b.load(chromedp.Click(chromedp.CSS("header form button[type=submit]"))) // sign out
	b.wantPath("/login?signed_out=1")
	b.open(base + "/login")
	b.fill("username", "tessa")
	b.fill("password", "correct horse battery")
	b.submit()
	b.wantPath("/login/2fa")
	check("login-2fa")
	b.fill("code", recovery)
	b.submit()
	b.wantPath("/dashboard")
	if got := b.text("#amr"); got != "password and recovery code" {
		t.Fatalf("dashboard: signed in with %q", got)
	}
	b.wantText("#aal", "Two factors (AAL2)")
}
