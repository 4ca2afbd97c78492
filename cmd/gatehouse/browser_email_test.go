package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// devBuild is true in dev builds (devbuild_dev_test.go), whose app has an
// SMTP server inside and /dev/mail.
var devBuild bool

// openMail opens, on /dev/mail, the newest message with subject, waiting
// up to 15 s for it to arrive (the mail worker sends it).
func (b *browser) openMail(base, subject string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	find := `(() => { const a = [...document.querySelectorAll("#mail a")].find(a => a.textContent === ` + strconv.Quote(subject) + `); return a ? a.getAttribute("href") : ""; })()`
	for {
		b.open(base + "/dev/mail")
		if href := get(b, chromedp.Evaluate[string](find)); href != "" {
			b.load(chromedp.Click(chromedp.CSS(`#mail a[href="` + href + `"]`)))
			b.wantText("h1", subject)
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no mail %q on /dev/mail after 15 s", subject)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// followMailLink clicks the link to path in the open message's text.
func (b *browser) followMailLink(path string) {
	b.t.Helper()
	b.load(chromedp.Click(chromedp.CSS(`#text a[href*="` + path + `?token="]`)))
}

// registerWithEmail creates an account with an address through the API
// and confirms the address from the mail, in b.
func registerWithEmail(t *testing.T, b *browser, base, username, password, email string) {
	t.Helper()
	resp, err := http.Post(base+"/auth/register", "application/json",
		strings.NewReader(`{"username":"`+username+`","password":"`+password+`","email":"`+email+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register %s: got %d", username, resp.StatusCode)
	}
	b.openMail(base, "Confirm your email address for Gatehouse")
	b.followMailLink("/email/verify")
	b.wantText("#address", email)
	b.submit()
	b.wantText("h1", "Email address confirmed")
}

// TestBrowserForgotPassword: the whole recovery in Chromium, reading the
// mail on /dev/mail: forgot password, the link, the new password, the
// dashboard. Then a sign-in from another browser mails a new-device
// notice, and its "This wasn't me" ends that session and leads to a new
// password again.
func TestBrowserForgotPassword(t *testing.T) {
	if !devBuild {
		t.Skip("needs a dev build (go test -tags dev): the app's own SMTP server and /dev/mail")
	}
	base, _ := startApp(t)
	b := newBrowser(t)
	registerWithEmail(t, b, base, "rosa", "correct horse battery", "rosa@example.com")

	b.open(base + "/login")
	b.load(chromedp.Click(chromedp.CSS(`#forgot`)))
	b.wantPath("/password/forgot")
	b.fill("login", "rosa")
	b.submit()
	b.wantText("h1", "Check your email")
	b.shot("forgot-sent")

	b.openMail(base, "Reset your Gatehouse password")
	b.shot("reset-mail")
	b.followMailLink("/password/reset")
	b.wantText("h1", "Choose a new password")
	b.fill("new_password", "a brand new horse")
	b.fill("new_password_confirm", "a brand new horse")
	if resp := b.submit(); resp.Status != http.StatusOK {
		t.Fatalf("reset: got %d", resp.Status)
	}
	b.wantPath("/dashboard")
	b.wantText("dd#username", "rosa")
	b.wantText("#flash", "Your password has been changed and you are signed in. Any other sessions have been signed out.")
	b.shot("dashboard-after-reset")

	// Someone else signs in, from a browser the account has not used.
	intruder := newBrowser(t)
	intruder.logIn(base, "rosa", "a brand new horse")

	b.openMail(base, "New sign-in to your Gatehouse account")
	b.shot("new-device-mail")
	b.followMailLink("/account/not-me")
	b.wantText("h1", "Sign out that device?")
	b.submit()
	b.wantText("h1", "Choose a new password")
	b.shot("not-me-done")
	intruder.open(base + "/dashboard")
	intruder.wantPath("/login?why=elsewhere")
	b.fill("new_password", "the owner is back")
	b.fill("new_password_confirm", "the owner is back")
	b.submit()
	b.wantPath("/dashboard")
	b.wantText("dd#username", "rosa")
}
