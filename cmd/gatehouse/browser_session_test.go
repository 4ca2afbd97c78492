package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/session"
)

// TestBrowserCookieAttributes reads the session cookie as Chromium stores
// it, before login, after login and after logout.
func TestBrowserCookieAttributes(t *testing.T) {
	base, env := startApp(t)
	register(t, base, "barbara", "correct horse battery")
	b := newBrowser(t)

	b.open(base + "/login")
	pre := b.cookie(base)
	if pre == nil {
		// The app sets no cookie before login. Plant one, as an attacker
		// would (session fixation): a token that Redis knows, so that the
		// app would keep using it unless login gives a new one.
		planted := anonymousSession(t, env["REDIS_URL"])
		_, err := chromedp.Call(b.ctx, network.SetCookie, network.SetCookieParams{
			Name: cookieName, Value: planted, URL: base + "/", Path: "/",
			HTTPOnly: new(true), SameSite: network.CookieSameSiteLax,
		})
		if err != nil {
			t.Fatalf("plant a cookie: %v", err)
		}
		if pre = b.cookie(base); pre == nil || pre.Value != planted {
			t.Fatalf("the planted cookie is not in the browser: %+v", pre)
		}
	}

	b.logIn(base, "barbara", "correct horse battery")
	c := b.cookie(base)
	if c == nil {
		t.Fatal("no session cookie after login")
	}
	t.Logf("after login: domain=%s path=%s httpOnly=%v secure=%v sameSite=%s session=%v",
		c.Domain, c.Path, c.HTTPOnly, c.Secure, c.SameSite, c.Session)
	if !c.HTTPOnly {
		t.Error("the session cookie is not HttpOnly")
	}
	if c.SameSite != network.CookieSameSiteLax {
		t.Errorf("SameSite: got %q, want %q", c.SameSite, network.CookieSameSiteLax)
	}
	if c.Path != "/" {
		t.Errorf("Path: got %q, want /", c.Path)
	}
	if c.Value == pre.Value {
		t.Error("the cookie's value did not change at login (session fixation)")
	}
	// The token from before login does not open the dashboard.
	if got := dashboardStatus(t, base, pre.Value); got != http.StatusSeeOther {
		t.Errorf("dashboard with the token from before login: got %d, want 303 to /login", got)
	}

	b.load(chromedp.Click(chromedp.CSS("header nav button[type=submit]")))
	b.wantPath("/login?signed_out=1")
	if c := b.cookie(base); c != nil {
		t.Errorf("the session cookie is still there after logout: %+v", c)
	}
}

// anonymousSession stores a session with no user in the app's Redis, as
// the app itself would, and returns its token.
func anonymousSession(t *testing.T, redisURL string) string {
	t.Helper()
	pool, err := redis.NewPool(redisURL, redis.Options{Timeout: time.Second, MaxActive: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// Stored as the app stores sessions: its store and codec, under the
	// token's hash.
	sm := scs.New()
	sm.Store, sm.Codec, sm.HashTokenInStore = session.NewStore(pool, 2), session.Codec{}, true
	ctx, err := sm.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	sm.Put(ctx, "planted", "by the test") // a key the app does not read
	token, _, err := sm.Commit(ctx)
	if err != nil {
		t.Fatalf("store a session: %v", err)
	}
	return token
}

// dashboardStatus requests /dashboard with this session token, without
// following redirects.
func dashboardStatus(t *testing.T, base, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/dashboard", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: cookieName, Value: token})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestBrowserSessionSurvivesRestart: the session lives in Redis, so a new
// app process on the same address still knows the browser.
func TestBrowserSessionSurvivesRestart(t *testing.T) {
	env := appEnv(t)
	base, stop := startInstance(t, env)
	register(t, base, "margaret", "correct horse battery")
	b := newBrowser(t)
	b.logIn(base, "margaret", "correct horse battery")

	// Shutdown takes about five seconds here: Chromium keeps a spare
	// connection open on which it has sent nothing yet, and net/http
	// waits that long before it treats such a connection as idle.
	if err := stop(); err != nil {
		t.Fatalf("stop the app: %v", err)
	}
	env["PORT"] = strings.TrimPrefix(base, "http://127.0.0.1:")
	if again, _ := startInstance(t, env); again != base {
		t.Fatalf("restarted on %s, want %s", again, base)
	}
	// Close the browser before the second app stops, for the same reason.
	t.Cleanup(b.close)

	if resp := b.load(chromedp.Reload()); resp.Status != http.StatusOK {
		t.Fatalf("reload after restart: got %d, want 200", resp.Status)
	}
	b.wantPath("/dashboard")
	b.wantText("dd#username", "margaret")
	b.shot("after-restart")
}

// TestBrowserTwoInstances: two app instances on one Redis and MongoDB serve
// one session; a load balancer needs no sticky sessions.
func TestBrowserTwoInstances(t *testing.T) {
	baseA, env := startApp(t)
	baseB, _ := startInstance(t, env)
	if baseA == baseB {
		t.Fatalf("both instances on %s", baseA)
	}
	register(t, baseA, "katherine", "correct horse battery")
	b := newBrowser(t)
	b.logIn(baseA, "katherine", "correct horse battery")

	if resp := b.open(baseB + "/dashboard"); resp.Status != http.StatusOK {
		t.Fatalf("dashboard on instance B: got %d, want 200", resp.Status)
	}
	if got := get(b, chromedp.Location()); got != baseB+"/dashboard" {
		t.Fatalf("the browser shows %s, want %s/dashboard", got, baseB)
	}
	b.wantText("dd#username", "katherine")
	b.shot("instance-b")
}

// TestBrowserCrossSiteLogout: a page on another site (localhost, while the
// app is on 127.0.0.1) submits a form to POST /logout as soon as it loads.
// The app refuses it, and the user stays signed in.
func TestBrowserCrossSiteLogout(t *testing.T) {
	base, _ := startApp(t)
	register(t, base, "frances", "correct horse battery")
	b := newBrowser(t)
	b.logIn(base, "frances", "correct horse battery")

	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Win a prize</title>
<form method="post" action="%s/logout"><button>Claim</button></form>
<script>addEventListener("load", () => document.forms[0].submit())</script>`, base)
	}))
	t.Cleanup(attacker.Close)
	u, err := url.Parse(attacker.URL)
	if err != nil {
		t.Fatal(err)
	}
	evil := "http://localhost:" + u.Port() + "/"

	// Record the responses, then open the attacker's page and wait until
	// the tab has left it for the app.
	responses := chromedp.Events(b.ctx, network.ResponseReceived)
	nav := get(b, chromedp.WaitEvent(page.FrameNavigated, func(ev page.EventFrameNavigated) bool {
		return ev.Frame.ParentID == "" && strings.HasPrefix(ev.Frame.URL, base+"/")
	}, chromedp.Navigate(evil)))
	if got := nav.Frame.URL; got != base+"/logout" {
		t.Fatalf("the forged POST /logout led to %s, want the refusal at %s/logout", got, base)
	}
	for ev, err := range responses {
		if err != nil {
			t.Fatalf("no response for the forged request: %v", err)
		}
		if ev.Type == network.ResourceTypeDocument && ev.Response.URL == base+"/logout" {
			if ev.Response.Status != http.StatusForbidden {
				t.Fatalf("forged POST /logout: got %d, want 403", ev.Response.Status)
			}
			break
		}
	}
	b.wantText("h1", "Request refused")
	b.shot("refused")

	b.open(base + "/dashboard")
	b.wantPath("/dashboard")
	b.wantText("dd#username", "frances")
}

// TestBrowserPlantedCookieOnAPath: another app on the same host set a
// cookie of the session's name with Path=/dashboard. Chromium sends it
// first on /dashboard, before Gatehouse's own Path=/ cookie. Signing in
// must land on the dashboard, not loop back to the sign-in form.
func TestBrowserPlantedCookieOnAPath(t *testing.T) {
	base, _ := startApp(t)
	register(t, base, "planted", "correct horse battery")
	b := newBrowser(t)
	if _, err := chromedp.Call(b.ctx, network.SetCookie, network.SetCookieParams{
		Name: cookieName, Value: "from-another-app", URL: base + "/dashboard", Path: "/dashboard",
	}); err != nil {
		t.Fatalf("plant a cookie: %v", err)
	}
	b.logIn(base, "planted", "correct horse battery")
	// Reload: the planted cookie comes first again, and is still there.
	b.open(base + "/dashboard")
	b.wantPath("/dashboard")
	b.wantText("dd#username", "planted")
}
