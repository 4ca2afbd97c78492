package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserScreenshots takes the README's screenshots: the sign-in page
// and a new user's dashboard, at the test window's width and at a phone's
// (390 × 844). With UPDATE_SCREENSHOTS=1 (make screenshots) it writes
// them to static/screenshots; otherwise only to the test's artifacts.
func TestBrowserScreenshots(t *testing.T) {
	base, _ := startApp(t)
	update := os.Getenv("UPDATE_SCREENSHOTS") == "1"
	for _, size := range []struct {
		suffix, user  string
		width, height int64
	}{{"", "ada", windowWidth, windowHeight}, {"-phone", "grace", 390, 844}} {
		b := newBrowser(t)
		b.do(chromedp.EmulateViewport(size.width, size.height))
		shot := func(name string) {
			t.Helper()
			png := get(b, chromedp.CaptureScreenshot())
			if err := b.save(name+size.suffix, png); err != nil {
				t.Fatal(err)
			}
			if update {
				if err := os.WriteFile(filepath.Join(repoRoot(t), "static", "screenshots", name+size.suffix+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		b.open(base + "/login")
		b.wantText("h1", "Sign in")
		shot("login")
		b.open(base + "/signup")
		b.fill("username", size.user)
		b.fill("password", "correct horse battery")
		b.fill("password_confirm", "correct horse battery")
		b.submit()
		b.wantPath("/dashboard")
		b.wantText("dd#username", size.user)
		shot("dashboard")
	}
	if update {
		t.Logf("wrote the README's screenshots to static/screenshots")
	}
}
