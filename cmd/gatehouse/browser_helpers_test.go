package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// The browser tests (browser_*_test.go) drive Debian's Chromium, headless,
// through the DevTools protocol with chromedp. Each test starts its own app
// (through run, on its own redis-server and FerretDB) and its own browser,
// and stops both when it ends.

const (
	// chromiumHint is the one line a developer without Chromium reads.
	chromiumHint = "chromium not found: apt-get install -y --no-install-recommends chromium"
	// cookieName is the session cookie's name in development.
	cookieName = "gatehouse_session"
	// browserTestTimeout bounds everything one test asks of its browser, so
	// that a page that never loads fails the test instead of hanging it.
	browserTestTimeout = 60 * time.Second
	// The viewport, and so the size of the screenshots (the README shows
	// two of them).
	windowWidth, windowHeight = 1000, 700
)

// findChromium returns the Chromium binary. Debian's /usr/bin/chromium is a
// shell wrapper around /usr/lib/chromium/chromium; the binary itself is
// preferred, so that chromedp starts and stops the browser process directly.
func findChromium(t *testing.T) string {
	t.Helper()
	const debian = "/usr/lib/chromium/chromium"
	if st, err := os.Stat(debian); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return debian
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.SkipOrFail(t, chromiumHint)
	return ""
}

// repoRoot returns the folder that holds go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's folder")
		}
		dir = parent
	}
}

// artifacts is the folder that receives the screenshots: $E2E_ARTIFACTS,
// or a temporary folder that outlives the test run, for inspection.
var artifacts struct {
	once sync.Once
	dir  string
	err  error
}

func artifactsDir(t *testing.T) string {
	t.Helper()
	artifacts.once.Do(func() {
		if d := os.Getenv("E2E_ARTIFACTS"); d != "" {
			artifacts.dir, artifacts.err = d, os.MkdirAll(d, 0o755)
		} else {
			artifacts.dir, artifacts.err = os.MkdirTemp("", "gatehouse-e2e-")
		}
		if artifacts.err == nil {
			t.Logf("screenshots go to %s (set E2E_ARTIFACTS to choose)", artifacts.dir)
		}
	})
	if artifacts.err != nil {
		t.Fatalf("screenshot folder: %v", artifacts.err)
	}
	return artifacts.dir
}

// appEnv returns the environment of an app on a private Redis and
// FerretDB, in development mode, logging errors only. It first makes sure
// that there is a browser to test the app with.
func appEnv(t *testing.T) map[string]string {
	t.Helper()
	findChromium(t)
	redisURL, _ := testenv.Redis(t)
	mongoURI, db := testenv.Mongo(t)
	return map[string]string{"REDIS_URL": redisURL, "MONGO_URI": mongoURI, "MONGO_DB": db, "LOG_LEVEL": "error"}
}

// startApp runs Gatehouse on private servers, and returns its base URL and
// its environment, without PORT, to start more instances on the same servers.
func startApp(t *testing.T) (base string, env map[string]string) {
	t.Helper()
	env = appEnv(t)
	base, _ = startInstance(t, env)
	return base, env
}

// startInstance runs Gatehouse with a copy of env, on env["PORT"] or a free
// port. Its log is shown when the test fails.
func startInstance(t *testing.T, env map[string]string) (base string, stop func() error) {
	t.Helper()
	e := make(map[string]string, len(env)+1)
	for k, v := range env {
		e[k] = v
	}
	base, out, stop := startRun(t, e)
	t.Cleanup(func() {
		if t.Failed() && out.String() != "" {
			t.Logf("log of the app at %s:\n%s", base, out)
		}
	})
	return base, stop
}

// register creates an account through the JSON API, which is quicker than
// the signup form for tests about something else.
func register(t *testing.T, base, username, password string) {
	t.Helper()
	body := fmt.Sprintf(`{"username":%q,"password":%q}`, username, password)
	resp, err := http.Post(base+"/auth/register", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register %s: got %d, want 201", username, resp.StatusCode)
	}
}

// browser is one headless Chromium with one tab, for one test.
type browser struct {
	t     *testing.T
	ctx   context.Context // the tab, bounded by browserTestTimeout
	shots int
	// close stops the browser and waits for its process to exit; it runs
	// when the test ends, or earlier when a test calls it.
	close func()
}

// newBrowser starts Chromium with a fresh profile and any extra options.
// The browser is stopped, and its process waited for, when the test ends; a
// failed test leaves a screenshot of where it stopped.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	exe := findChromium(t)
	profile := t.TempDir() // removed after the browser has exited (cleanups run last-in first-out)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		// Root in a container has no usable sandbox; the tests only load
		// their own pages.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(windowWidth, windowHeight),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	// The first Do starts the browser; its context (no deadline) is the
	// browser's lifetime.
	if err := chromedp.Do(tab, chromedp.EmulateViewport(windowWidth, windowHeight)); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("start chromium %s: %v", exe, err)
	}
	ctx, cancel := context.WithTimeout(tab, browserTestTimeout)
	b := &browser{t: t, ctx: ctx}
	b.close = sync.OnceFunc(func() {
		cancel()
		// Cancel closes the browser and waits for its process to exit;
		// cancelAlloc kills whatever is left.
		if err := chromedp.Cancel(tab); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("stop chromium: %v", err)
		}
		cancelTab()
		cancelAlloc()
	})
	t.Cleanup(b.close)
	t.Cleanup(func() {
		if t.Failed() {
			sctx, scancel := context.WithTimeout(tab, 5*time.Second)
			defer scancel()
			if png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot()); err == nil {
				if err := b.save("failed", png); err == nil {
					t.Logf("screenshots of this test are in %s", b.dir())
				}
			}
		}
	})
	return b
}

// get runs one action that returns a value, and fails the test on error.
func get[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

// do runs actions that return nothing, and fails the test on error.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// load runs steps that start a navigation (opening a URL, clicking a link
// or a submit button, pressing Enter in a form), waits for the new page and
// returns the response of its document, after redirects.
func (b *browser) load(steps ...chromedp.Action[chromedp.Void]) *network.Response {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, steps...)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return resp
}

// open loads url and returns the response of its document.
func (b *browser) open(url string) *network.Response {
	b.t.Helper()
	return b.load(chromedp.Navigate(url))
}

// back presses the Back button and returns how the page came back: a
// "Navigation" (the browser asked the server) or a "BackForwardCacheRestore".
// It waits for the main frame to show the page and for a new page to be
// complete, and not for a load event, which a page restored from the
// back/forward cache does not fire. After a restore, only the actions that
// evaluate in the page's default context (count, path) work.
func (b *browser) back() page.NavigationType {
	b.t.Helper()
	hist := get(b, chromedp.NavigationEntries())
	if hist.CurrentIndex < 1 {
		b.t.Fatal("Back: no earlier page in the history")
	}
	entry := hist.Entries[hist.CurrentIndex-1]
	ev := get(b, chromedp.WaitEvent(page.FrameNavigated, func(ev page.EventFrameNavigated) bool {
		return ev.Frame.ParentID == ""
	}, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.NavigateToHistoryEntry, page.NavigateToHistoryEntryParams{EntryID: entry.ID})
		return err
	})))
	if ev.Type != page.NavigationTypeBackForwardCacheRestore { // a restored page is complete
		get(b, chromedp.Poll[bool](`document.readyState === "complete"`))
	}
	return ev.Type
}

// path returns the path and query of the page that the browser shows.
func (b *browser) path() string {
	b.t.Helper()
	loc := get(b, chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatalf("location %q: %v", loc, err)
	}
	return u.RequestURI()
}

// wantPath fails the test unless the browser shows path (with its query).
func (b *browser) wantPath(want string) {
	b.t.Helper()
	if got := b.path(); got != want {
		b.t.Fatalf("the browser shows %s, want %s", got, want)
	}
}

// text returns the visible text of the element that css selects. It waits
// a little for the element to be visible, and fails the test if it is not.
func (b *browser) text(css string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	// Right after a navigation the node found may belong to a document
	// being replaced (CDP error -32000, "No node with given id found";
	// TestBrowserCrossSiteLogout met it once): ask again.
	for tries := 0; err != nil && strings.Contains(err.Error(), "-32000") && tries < 3; tries++ {
		s, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	}
	if err != nil {
		b.t.Fatalf("%s is not shown on %s: %v", css, b.path(), err)
	}
	return strings.TrimSpace(s)
}

// wantText fails the test unless the element that css selects shows want.
func (b *browser) wantText(css, want string) {
	b.t.Helper()
	if got := b.text(css); got != want {
		b.t.Errorf("%s: got %q, want %q", css, got, want)
	}
}

// count returns how many elements css selects now, without waiting.
func (b *browser) count(css string) int {
	b.t.Helper()
	return get(b, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%s).length", strconv.Quote(css))))
}

// fill types value into the input with this id, as a person would.
func (b *browser) fill(id, value string) {
	b.t.Helper()
	b.do(chromedp.SendKeys(chromedp.ID(id), value))
}

// submit clicks the form's submit button in main and returns the response
// of the page that follows.
func (b *browser) submit() *network.Response {
	b.t.Helper()
	return b.load(chromedp.Click(chromedp.CSS("main form button[type=submit]")))
}

// logIn signs in through the login form and checks that the dashboard
// shows the user.
func (b *browser) logIn(base, username, password string) {
	b.t.Helper()
	b.open(base + "/login")
	b.fill("username", username)
	b.fill("password", password)
	if resp := b.submit(); resp.Status != http.StatusOK {
		b.t.Fatalf("log in as %s: got %d, want 200", username, resp.Status)
	}
	b.wantPath("/dashboard")
	b.wantText("dd#username", username)
}

// cookie returns the session cookie that the browser holds for base, or nil.
func (b *browser) cookie(base string) *network.Cookie {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	if err != nil {
		b.t.Fatalf("browser: get cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == cookieName {
			return c
		}
	}
	return nil
}

// shot saves a screenshot of the page as <artifacts>/<test>/<nn>-<name>.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	if err := b.save(name, get(b, chromedp.CaptureScreenshot())); err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
}

// dir is the test's folder of screenshots.
func (b *browser) dir() string {
	return filepath.Join(artifactsDir(b.t), strings.ReplaceAll(b.t.Name(), "/", "_"))
}

func (b *browser) save(name string, png []byte) error {
	dir := b.dir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b.shots++
	return os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d-%s.png", b.shots, name)), png, 0o644)
}

// wantErr fails the test unless the field's error, under its label, says
// want. The error starts with a visually hidden "Error:" for screen
// readers, which the browser's innerText includes.
func (b *browser) wantErr(field, want string) {
	b.t.Helper()
	if got := strings.TrimSpace(strings.TrimPrefix(b.text("#"+field+"-error"), "Error:")); got != want {
		b.t.Errorf("#%s-error: got %q, want %q", field, got, want)
	}
}
