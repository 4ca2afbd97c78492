package main

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestBrowserStaleAdminAction: an admin whose password is older than the
// reauthentication window clicks Disable. The confirmation page names the
// action and asks for the password on the same form; confirming runs the
// action, which the Users list then shows with a message. Right after, the
// password page does not ask for the current password again.
func TestBrowserStaleAdminAction(t *testing.T) {
	base, env := startApp(t)
	register(t, base, "victim", "correct horse battery")
	if _, err := runCLI(t, env, "correct horse battery\n", "user", "add", "-username", "boss", "-role", "admin"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	b.logIn(base, "boss", "correct horse battery")
	ageSession(t, env["REDIS_URL"], b.cookie(base).Value, time.Hour)

	b.open(base + "/admin/users")
	b.wantText(`tr[data-username="victim"] td.status`, "Active")
	b.load(chromedp.Click(chromedp.CSS(`tr[data-username="victim"] a[href$="/disable"]`)))
	b.wantText("h1", "Disable victim?")
	b.wantText("#why-password", "Confirm your password to disable victim.")
	b.shot("confirm")
	b.fill("password", "wrong horse battery")
	if resp := b.submit(); resp.Status != http.StatusUnprocessableEntity {
		t.Errorf("a wrong password: got %d, want 422", resp.Status)
	}
	b.wantText("h1", "Disable victim?") // the same action, still there
	b.wantErr("password", "Enter your current password: that one is not right")
	b.fill("password", "correct horse battery")
	if resp := b.submit(); resp.Status != http.StatusOK {
		t.Fatalf("confirm: got %d, want 200", resp.Status)
	}
	b.wantPath("/admin/users")
	b.wantText("#flash", "victim was disabled and signed out everywhere.")
	b.wantText(`tr[data-username="victim"] td.status`, "Disabled")
	b.shot("after-confirm")

	// The password was just entered: the next sensitive page does not ask.
	b.open(base + "/account/password")
	if n := b.count("#current_password"); n != 0 {
		t.Error("the password page asks for the current password right after the confirmation page did")
	}
}

// ageSession moves the sign-in (and any confirmation) of the session whose
// cookie holds token back by d, as if it had happened d ago, by rewriting
// the stored session in Redis with the app's own codec.
func ageSession(t *testing.T, redisURL, token string, d time.Duration) {
	t.Helper()
	c := testenv.DialRedis(t, redisURL)
	key := session.DataKey(token)
	raw, err := redigo.Bytes(c.Do("GET", key))
	if err != nil {
		t.Fatalf("the stored session: %v", err)
	}
	var codec session.Codec
	deadline, values, err := codec.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for k, v := range values {
		if rec, ok := v.(*session.Record); ok {
			aged := *rec
			aged.AuthAt = aged.AuthAt.Add(-d)
			if !aged.ReauthAt.IsZero() {
				aged.ReauthAt = aged.ReauthAt.Add(-d)
			}
			values[k] = &aged
			found = true
		}
	}
	if !found {
		t.Fatal("the stored session holds no record")
	}
	raw, err = codec.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do("SET", key, raw, "KEEPTTL"); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserErrorSummary: a form with several mistakes names them all at
// once in a summary at the top, which takes the focus and puts "Error:" in
// the title; from it, the keyboard reaches each field in error.
func TestBrowserErrorSummary(t *testing.T) {
	base, _ := startApp(t)
	b := newBrowser(t)

	b.open(base + "/signup")
	b.fill("username", "a!")
	b.fill("password", "short")
	b.fill("password_confirm", "other")
	if resp := b.submit(); resp.Status != http.StatusUnprocessableEntity {
		t.Fatalf("signup: got %d, want 422", resp.Status)
	}
	b.shot("signup-errors")
	title := get(b, chromedp.Title())
	if !strings.HasPrefix(title, "Error: ") {
		t.Errorf("title %q does not start with Error: ", title)
	}
	b.wantText(".error-summary h2", "There is a problem")
	if got := get(b, chromedp.Evaluate[string](`document.activeElement.className`)); got != "error-summary" {
		t.Errorf("the focus is on %q, want the error summary", got)
	}
	want := map[string]string{
		"username":         "Enter a username of at least 3 characters, and use only letters, digits, dots (.), dashes (-) and underscores (_)",
		"password":         "Enter a password of at least 8 characters",
		"password_confirm": "Enter the same password in both fields",
	}
	for field, msg := range want {
		b.wantErr(field, msg)
		if got := get(b, chromedp.AttributeValue(chromedp.ID(field), "aria-describedby")); !strings.Contains(got.Value, field+"-error") {
			t.Errorf("#%s: aria-describedby %q does not name its error", field, got.Value)
		}
	}
	links := get(b, chromedp.Evaluate[[][2]string](`[...document.querySelectorAll(".error-summary a")].map(a => [a.getAttribute("href"), a.textContent])`))
	if len(links) != len(want) {
		t.Fatalf("the summary links %q, want one link per error (%d)", links, len(want))
	}
	// Each link, reached with Tab and followed with Enter, puts the focus
	// in its field; Shift+Tab goes back to the summary for the next one.
	for _, l := range links {
		field := strings.TrimPrefix(l[0], "#")
		if want[field] != l[1] {
			t.Errorf("summary link to %s says %q, want %q", l[0], l[1], want[field])
		}
		b.do(chromedp.Focus(chromedp.CSS(".error-summary")))
		b.tabToLink(l[0])
		b.pressEnter()
		if got := get(b, chromedp.Evaluate[string](`location.hash + " " + document.activeElement.id`)); got != l[0]+" "+field {
			t.Errorf("Enter on the summary's link to %s: the page's hash and focus are %q, want %q", l[0], got, l[0]+" "+field)
		}
	}

	// The login form: both empty fields at once, and the page title.
	b.open(base + "/login")
	b.submit()
	b.wantErr("username", "Enter your username")
	b.wantErr("password", "Enter your password")
	if n := b.count(".error-summary li"); n != 2 {
		t.Errorf("the login form's summary lists %d errors, want 2", n)
	}
}

// pressEnter presses Enter as a keyboard does: one key-down event that
// carries the text "\r", then the key-up. chromedp's KeyEvent sends the
// text as a separate char event, which Chromium then delivers to whatever
// the key-down moved the focus to: after Enter on a link to a field, the
// field gets an Enter of its own and submits the form.
func (b *browser) pressEnter() {
	b.t.Helper()
	down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter",
		WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13, Text: "\r", UnmodifiedText: "\r"}
	up := down
	up.Type, up.Text, up.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
	b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, e := range []input.DispatchKeyEventParams{down, up} {
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, e); err != nil {
				return err
			}
		}
		return nil
	}))
}

// tabToLink presses Tab until the focus is on the link whose href
// attribute is href, within a dozen presses.
func (b *browser) tabToLink(href string) {
	b.t.Helper()
	for range 12 {
		b.do(chromedp.KeyEvent(kb.Tab))
		if get(b, chromedp.Evaluate[string](`document.activeElement.getAttribute("href") || ""`)) == href {
			return
		}
	}
	b.t.Fatalf("Tab never reached the link to %s", href)
}

// TestBrowserPhoneWidth opens every page at 390 × 844, the size of a
// common phone, and checks that none is wider than the viewport: no page
// scrolls sideways.
func TestBrowserPhoneWidth(t *testing.T) {
	base, env := startApp(t)
	register(t, base, "victim", "correct horse battery")
	if _, err := runCLI(t, env, "correct horse battery\n", "user", "add", "-username", "boss", "-role", "admin"); err != nil {
		t.Fatal(err)
	}
	// A second session, so that the sessions table has two rows and its
	// "Sign out all other sessions" link shows.
	other := &http.Client{Jar: newJar(t)}
	resp, err := other.PostForm(base+"/login", url.Values{"username": {"boss"}, "password": {"correct horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	b := newBrowser(t)
	b.do(chromedp.EmulateViewport(390, 844))
	fits := func(name string) {
		t.Helper()
		b.shot(name)
		w := get(b, chromedp.Evaluate[[2]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
		if w[0] > w[1] {
			t.Errorf("%s at 390 px: the page is %d px wide, wider than the viewport (%d px)", name, w[0], w[1])
		}
	}
	b.open(base + "/login")
	fits("login")
	b.open(base + "/signup")
	b.fill("username", "a!")
	b.submit()
	fits("signup-errors")
	b.logIn(base, "boss", "correct horse battery")
	fits("dashboard")
	b.open(base + "/account/sessions")
	if n := b.count("#sessions tbody tr"); n != 2 {
		t.Fatalf("the sessions table has %d rows, want 2", n)
	}
	fits("sessions")
	b.open(base + "/account/sessions/revoke-others")
	fits("confirm")
	b.open(base + "/account/password")
	fits("password")
	b.open(base + "/admin/users")
	fits("admin-users")
	b.open(base + "/no-such-page")
	fits("not-found")
}

// newJar returns an empty cookie jar.
func newJar(t *testing.T) http.CookieJar {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return jar
}

// TestBrowserPlainHTTPProduction: production's session cookie is Secure,
// and Chromium drops it on a plain-HTTP page at a host other than
// localhost. Signing in there explains why instead of showing the sign-in
// form again; at 127.0.0.1, which Chromium trusts like https, the same
// sign-in goes through.
func TestBrowserPlainHTTPProduction(t *testing.T) {
	env := appEnv(t)
	env["APP_ENV"] = "production"
	env["MAIL_ENABLED"] = "false"
	local, _ := startInstance(t, env)
	register(t, local, "ada", "correct horse battery")
	// gatehouse.test is this machine, under a name that is not localhost.
	b := newBrowser(t, chromedp.Flag("host-resolver-rules", "MAP gatehouse.test 127.0.0.1"))
	u, err := url.Parse(local)
	if err != nil {
		t.Fatal(err)
	}
	named := "http://gatehouse.test:" + u.Port()

	b.open(named + "/login")
	b.fill("username", "ada")
	b.fill("password", "correct horse battery")
	b.submit()
	b.wantPath("/login/check?next=%2Fdashboard")
	b.wantText("#reason", "Your browser refused the session cookie because this site is not served over HTTPS.")
	b.shot("cookie-refused")
	kept, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{named + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range kept.Cookies {
		t.Errorf("Chromium kept the cookie %s on plain HTTP", c.Name)
	}

	// At 127.0.0.1 the cookie stays, and the check lets the sign-in through.
	b.logIn(local, "ada", "correct horse battery")
	if c, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{local + "/"}}); err != nil || len(c.Cookies) == 0 {
		t.Errorf("no cookies at %s after signing in (%v)", local, err)
	}
}
