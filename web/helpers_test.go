package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	redigo "github.com/gomodule/redigo/redis"

	gatehouse "github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/embedded"
	"github.com/gatehouse/gatehouse/internal/mail"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/user"
	"github.com/gatehouse/gatehouse/web"
)

// fastHash keeps tests quick; production uses password.OWASP.
var fastHash = password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// backends are the real servers one or more app instances share.
type backends struct {
	redisURL string
	mongoURI string
	mongoDB  string
}

func newBackends(t *testing.T) backends {
	t.Helper()
	redisURL, _ := testenv.Redis(t)
	uri, db := testenv.Mongo(t)
	return backends{redisURL: redisURL, mongoURI: uri, mongoDB: db}
}

// options vary an app instance.
type options struct {
	production bool
	cors       []string
	// Login limits; zero means the production defaults.
	maxPerAccount, maxPerIP int
	guessLimit              int
	trustedProxies          []netip.Prefix
	now                     func() time.Time
	policy                  session.Policy // zero fields: the defaults
	hashSlots               int            // bound on concurrent password hashes; 0: none
	hashWait                time.Duration
	hashParams              *password.Params // default fastHash
	mongoTimeout            time.Duration    // default 2s
	signupMax               int              // sign-ups per IP and hour; default 1000, more than tests make
	maxSessions             int              // sessions per user; default 50
	pwnedURL                string           // PWNED_PASSWORDS_URL; "" is off
	// wrapUsers, when set, wraps the user service the router gets.
	wrapUsers func(web.Users) web.Users
	// mail turns e-mail on, with a real SMTP server in the test (app.smtp)
	// and the mail worker running; resetTTL shortens PASSWORD_RESET_TTL.
	mail     bool
	resetTTL time.Duration
	// require2FA is REQUIRE_2FA_ROLES.
	require2FA []string
}

// app is one running instance of the real router on real backends, built
// as the server builds it (internal/app).
type app struct {
	*httptest.Server
	handler http.Handler
	pool    *redigo.Pool
	users   *user.Service
	index   *session.Index
	logs    *testenv.LogBuffer // the app's log, Info and up
	// With options.mail: the SMTP server the app sends to, and its queue.
	smtp  *embedded.SMTP
	queue *mail.Queue
}

func newApp(t *testing.T, b backends, o options) *app {
	t.Helper()
	// The development defaults, on the test's servers, with o's changes.
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.RedisURL, cfg.MongoURI, cfg.MongoDB = b.redisURL, b.mongoURI, b.mongoDB
	cfg.RedisTimeout, cfg.RedisMaxActive, cfg.MongoTimeout = 500*time.Millisecond, 16, 2*time.Second
	if o.mongoTimeout != 0 {
		cfg.MongoTimeout = o.mongoTimeout
	}
	if o.production {
		cfg.Env, cfg.CookieName, cfg.CookieSecure = config.Production, "__Host-gatehouse_session", true
	}
	cfg.CORSAllowedOrigins = o.cors
	cfg.Require2FARoles = o.require2FA
	if o.maxSessions != 0 {
		cfg.MaxSessionsPerUser = o.maxSessions
	}
	cfg.SignupMaxPerIP = 1000
	if o.signupMax != 0 {
		cfg.SignupMaxPerIP = o.signupMax
	}
	cfg.PwnedPasswordsURL = o.pwnedURL
	cfg.TrustedProxies = o.trustedProxies
	cfg.PasswordHashConcurrency, cfg.LoginQueueTimeout = o.hashSlots, o.hashWait
	for _, v := range []struct {
		dst *int
		val int
	}{{&cfg.LoginMaxFailuresAccount, o.maxPerAccount}, {&cfg.LoginMaxFailuresIP, o.maxPerIP}, {&cfg.TokenGuessLimit, o.guessLimit}} {
		if v.val != 0 {
			*v.dst = v.val
		}
	}
	for _, v := range []struct{ dst, val *time.Duration }{
		{&cfg.SessionLifetime, &o.policy.Lifetime}, {&cfg.RememberMeLifetime, &o.policy.RememberLifetime},
		{&cfg.SessionIdleTimeout, &o.policy.IdleTimeout}, {&cfg.SessionTouchInterval, &o.policy.TouchInterval},
		{&cfg.ReauthWindow, &o.policy.ReauthWindow},
	} {
		if *v.val != 0 {
			*v.dst = *v.val
		}
	}
	params := fastHash
	if o.hashParams != nil {
		params = *o.hashParams
	}
	logs := &testenv.LogBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("app log:\n%s", logs.String())
		}
	})
	// The listener first: links in mails lead to its address.
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	cfg.PublicURL = "http://" + srv.Listener.Addr().String()
	var smtp *embedded.SMTP
	if o.mail {
		smtp = testenv.SMTP(t, 0)
		cfg.SMTPURL = smtp.URL
	}
	if o.resetTTL != 0 {
		cfg.PasswordResetTTL = o.resetTTL
	}
	a, err := gatehouse.New(context.Background(), cfg, gatehouse.Options{
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Now: o.now, Hashing: &params, WrapUsers: o.wrapUsers,
		Mail: mail.Options{Name: "gatehouse:mail:" + t.Name(), Block: 100 * time.Millisecond, RetryBase: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	t.Cleanup(a.StartMail())
	srv.Config.Handler = a.Handler
	srv.Start()
	return &app{Server: srv, handler: a.Handler, pool: a.Redis, users: a.Users, index: a.Index, logs: logs, smtp: smtp, queue: a.MailQueue}
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see each 303.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a finished response with its body read.
type response struct {
	*http.Response
	body string
}

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return response{resp, string(body)}
}

func (b *browser) get(path string) response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

func (b *browser) postForm(path string, form url.Values) response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// What a browser sends for a same-origin form.
	req.Header.Set("Origin", b.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

func (b *browser) postJSON(path, body string) response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return b.do(req)
}

// cookie returns the session cookie the jar holds for the app, or "".
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (b *browser) signup(username, pw string) response {
	b.t.Helper()
	return b.postForm("/signup", url.Values{"username": {username}, "password": {pw}, "password_confirm": {pw}})
}

func (b *browser) login(username, pw string) response {
	b.t.Helper()
	return b.postForm("/login", url.Values{"username": {username}, "password": {pw}})
}

func wantStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s %s: got status %d, want %d; body: %.300s", r.Request.Method, r.Request.URL.Path, r.StatusCode, want, r.body)
	}
}

func wantRedirect(t *testing.T, r response, to string) {
	t.Helper()
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Location"); got != to {
		t.Fatalf("%s: got Location %q, want %q", r.Request.URL.Path, got, to)
	}
}

// doc parses an HTML response.
func doc(t *testing.T, r response) *goquery.Document {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("got Content-Type %q, want text/html", ct)
	}
	d, err := goquery.NewDocumentFromReader(strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// text is the trimmed text of the first match of sel.
func text(d *goquery.Document, sel string) string {
	return strings.TrimSpace(d.Find(sel).First().Text())
}

// fieldError is the message a form shows at field, without the "Error:"
// that only screen readers hear.
func fieldError(d *goquery.Document, field string) string {
	return strings.TrimSpace(strings.TrimPrefix(text(d, "#"+field+"-error"), "Error:"))
}

// jsonBody decodes a JSON response into a map.
func jsonBody(t *testing.T, r response) map[string]any {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("got Content-Type %q, want application/json; body %.200s", ct, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return m
}

// setCookie returns the Set-Cookie header for name, parsed.
func setCookie(r response, name string) *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// sessionKeys returns the scs keys in the app's Redis; the test fails
// unless there are want of them.
func sessionKeys(t *testing.T, a *app, want int) []string {
	t.Helper()
	c := a.pool.Get()
	defer c.Close()
	keys, err := redigo.Strings(c.Do("KEYS", session.DataKeyPattern))
	if err != nil || len(keys) != want {
		t.Fatalf("got session keys %v, %v; want %d", keys, err, want)
	}
	return keys
}
