package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestBrowserPasskey runs every passkey flow in Chromium with a virtual
// authenticator (browser_passkey_helpers_test.go): adding one, signing
// in with it without a username, using it as the second factor after the
// password, and removing it. It also checks that every page's only
// scripts are files under /static/, under a CSP without 'unsafe-inline',
// runs axe-core on the passkeys page, and, with UPDATE_SCREENSHOTS=1,
// writes the README's passkey screenshots.
func TestBrowserPasskey(t *testing.T) {
	base, _ := startApp(t)
	const pw = "correct horse battery"
	register(t, base, "ada", pw)
	// The relying party is localhost: an IP address cannot be one.
	lh := localhost(t, base)
	b := newBrowser(t)
	auth := b.addAuthenticator()
	update := os.Getenv("UPDATE_SCREENSHOTS") == "1"
	screenshot := func(name string) {
		t.Helper()
		png := get(b, chromedp.CaptureScreenshot())
		if err := b.save(name, png); err != nil {
			t.Fatal(err)
		}
		if update {
			if err := os.WriteFile(filepath.Join(repoRoot(t), "static", "screenshots", name+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// onlyOwnScripts fails the test unless every script element of the
	// page loads a file under /static/, with no code inline, and the
	// page's CSP allows no inline code.
	onlyOwnScripts := func(resp *network.Response) {
		t.Helper()
		srcs := get(b, chromedp.Evaluate[[]string](`Array.from(document.scripts).map(s => (s.getAttribute("src") || "") + "|" + s.text.trim())`))
		if len(srcs) == 0 {
			t.Errorf("%s: no script: want static/js/passkey.js", b.path())
		}
		for _, s := range srcs {
			src, inline, _ := strings.Cut(s, "|")
			if !strings.HasPrefix(src, "/static/") || inline != "" {
				t.Errorf("%s: script %q: want a src under /static/ and no inline code", b.path(), s)
			}
		}
		csp, _ := resp.Headers["Content-Security-Policy"].(string)
		if csp == "" || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q: want one without 'unsafe-'", b.path(), csp)
		}
	}
	// waitShown waits until the script has unhidden the element.
	waitShown := func(css string) {
		t.Helper()
		b.do(chromedp.WaitVisible(chromedp.CSS(css)))
	}

	// Adding: after the password, the add form's button runs the
	// ceremony, and the page lists the passkey.
	b.logIn(lh, "ada", pw)
	resp := b.open(lh + "/account/passkeys")
	onlyOwnScripts(resp)
	waitShown("#add-passkey")
	if n := b.count("[data-passkey-fallback]:not([hidden])"); n != 0 {
		t.Errorf("the no-script hint is still shown (%d)", n)
	}
	b.fill("name", "Work laptop")
	b.load(chromedp.Click(chromedp.ID("add-passkey")))
	b.wantPath("/account/passkeys")
	b.wantText("#passkeys td.passkey-name", "Work laptop")
	if n := len(b.credentials(auth)); n != 1 {
		t.Fatalf("the authenticator holds %d credentials, want 1", n)
	}
	screenshot("passkeys")
	runAxe(t, b, "passkeys")

	// Signing in without a username, by conditional mediation: the login
	// page asks for a passkey in the username field's autofill, which
	// the virtual authenticator answers at once, as a person picking
	// their passkey there would.
	b.load(chromedp.Click(chromedp.CSS("nav form button[type=submit]")))
	b.wantPath("/login?signed_out=1")
	get(b, chromedp.WaitEvent(page.FrameNavigated, func(ev page.EventFrameNavigated) bool {
		return ev.Frame.ParentID == "" && strings.HasSuffix(ev.Frame.URL, "/dashboard")
	}, chromedp.Navigate(lh+"/login")))
	get(b, chromedp.Poll[bool](`document.readyState === "complete"`))
	b.wantText("dd#username", "ada")
	if got := get(b, chromedp.AttributeValue(chromedp.ID("amr"), "data-amr")).Value; got != "webauthn" {
		t.Errorf("amr after a conditional passkey sign-in: got %q, want webauthn", got)
	}

	// The button, in a browser without conditional mediation (made so
	// for the rest of the test, before any page's script runs).
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);`,
	}); err != nil {
		t.Fatalf("browser: %v", err)
	}
	b.load(chromedp.Click(chromedp.CSS("nav form button[type=submit]")))
	resp = b.open(lh + "/login")
	onlyOwnScripts(resp)
	if got := get(b, chromedp.AttributeValue(chromedp.ID("username"), "autocomplete")).Value; got != "username webauthn" {
		t.Errorf("username autocomplete: got %q, want \"username webauthn\"", got)
	}
	waitShown("#passkey-login")
	screenshot("login-passkey")
	b.load(chromedp.Click(chromedp.ID("passkey-login")))
	b.wantPath("/dashboard")
	b.wantText("dd#username", "ada")
	if got := get(b, chromedp.AttributeValue(chromedp.ID("amr"), "data-amr")).Value; got != "webauthn" {
		t.Errorf("amr after a passkey sign-in: got %q, want webauthn", got)
	}

	// The passkey as the second factor: the password leads to
	// /login/2fa, and the passkey finishes the sign-in.
	b.load(chromedp.Click(chromedp.CSS("nav form button[type=submit]")))
	b.open(lh + "/login")
	b.fill("username", "ada")
	b.fill("password", pw)
	b.submit()
	if p := b.path(); !strings.HasPrefix(p, "/login/2fa") {
		t.Fatalf("after the password: the browser shows %s, want /login/2fa", p)
	}
	waitShown("button[data-passkey=second-factor]")
	b.load(chromedp.Click(chromedp.CSS("button[data-passkey=second-factor]")))
	b.wantPath("/dashboard")
	if got := get(b, chromedp.AttributeValue(chromedp.ID("amr"), "data-amr")).Value; got != "pwd webauthn" {
		t.Errorf("amr after password and passkey: got %q, want \"pwd webauthn\"", got)
	}

	// Removing, through its confirmation page.
	b.open(lh + "/account/passkeys")
	b.load(chromedp.Click(chromedp.CSS("#passkeys a.danger")))
	b.wantText("h1", "Remove the passkey Work laptop?")
	if resp := b.submit(); resp.Status != http.StatusOK {
		t.Fatalf("remove: got %d, want 200", resp.Status)
	}
	b.wantPath("/account/passkeys")
	b.wantText("#no-passkeys", "You have no passkeys yet.")
}

// runAxe runs axe-core on the page the browser shows and fails the test
// on any violation.
func runAxe(t *testing.T, b *browser, page string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot(t), ".cache", "axe", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		testenv.SkipOrFail(t, axeHint)
	}
	b.do(chromedp.Evaluate[chromedp.Void](string(src)))
	for _, v := range get(b, chromedp.Evaluate[[]axeViolation](axeRun, chromedp.EvalAwaitPromise)) {
		t.Errorf("%s: axe %s (%s): %s; %s; %s", page, v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "), v.HelpURL)
	}
}
