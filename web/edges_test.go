package web_test

// Edge cases real deployments hit, replayed from public bug reports filed
// against other session and login systems: stale and duplicate cookies,
// HEAD and 405, origins that are not origins, storage that half works, and
// Unicode in the forms. Each runs through the real router on real Redis and
// FerretDB.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gatehouse/gatehouse/internal/embedded"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// staleToken is well-formed but names no session.
func staleToken(i int) string { return fmt.Sprintf("%043d", i) }

// withCookie sends req with the raw Cookie header h.
func withCookie(t *testing.T, base, method, path, h, body string) response {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	if h != "" {
		req.Header.Set("Cookie", h)
	}
	if strings.HasPrefix(path, "/auth/") || strings.HasPrefix(path, "/api/") {
		req.Header.Set("Content-Type", "application/json")
	} else if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return newBrowser(t, base).do(req)
}

// TestStaleCookieNeverLocksOut: after a mass revocation or a Redis data
// loss, one office's browsers all send cookies that name no session. Past
// the token-guessing limit, that office must still be able to sign in,
// its refused requests must clear the stale cookie, and the valid sessions
// of everyone behind the same address must keep working.
func TestStaleCookieNeverLocksOut(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{guessLimit: 5})
	colleague := newBrowser(t, a.URL)
	wantRedirect(t, colleague.signup("colleague", "password-1"), "/dashboard")
	wantRedirect(t, newBrowser(t, a.URL).signup("owner", "password-1"), "/dashboard")

	for i := range 10 {
		withCookie(t, a.URL, http.MethodGet, "/dashboard", cookieName+"="+staleToken(i), "")
	}
	stale := cookieName + "=" + staleToken(99)
	r := withCookie(t, a.URL, http.MethodGet, "/dashboard", stale, "")
	wantStatus(t, r, http.StatusTooManyRequests)
	if c := setCookie(r, cookieName); c == nil || c.MaxAge >= 0 {
		t.Errorf("a 429 for a stale cookie did not clear it: %+v", c)
	}
	if !strings.Contains(a.logs.String(), "possible token guessing") {
		t.Error("the guessing was not logged")
	}

	// Signing in and up is never refused for it.
	wantStatus(t, withCookie(t, a.URL, http.MethodGet, "/login", stale, ""), http.StatusOK)
	wantStatus(t, withCookie(t, a.URL, http.MethodGet, "/signup", stale, ""), http.StatusOK)
	form := url.Values{"username": {"owner"}, "password": {"password-1"}}.Encode()
	r = withCookie(t, a.URL, http.MethodPost, "/login", stale, form)
	wantRedirect(t, r, "/dashboard")
	wantStatus(t, withCookie(t, a.URL, http.MethodPost, "/auth/login", stale, `{"username":"owner","password":"password-1"}`), http.StatusOK)
	wantStatus(t, withCookie(t, a.URL, http.MethodPost, "/auth/register", stale, `{"username":"newcomer","password":"password-1"}`), http.StatusCreated)
	// The session that sign-in made works from the same address.
	c := setCookie(r, cookieName)
	if c == nil || c.Value == "" {
		t.Fatal("sign-in with a stale cookie set no session cookie")
	}
	wantStatus(t, withCookie(t, a.URL, http.MethodGet, "/dashboard", cookieName+"="+c.Value, ""), http.StatusOK)
	// So does the colleague's, signed in before.
	wantStatus(t, colleague.get("/dashboard"), http.StatusOK)
}

// TestDuplicateSessionCookies: a browser sends every cookie whose path
// matches, so another app on the same host, or a sibling subdomain, can
// make two cookies of the session's name arrive. The one that names a live
// session is used, and the valid cookie is never deleted.
func TestDuplicateSessionCookies(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("twice", "password-1"), "/dashboard")
	wantStatus(t, b.get("/dashboard"), http.StatusOK) // shows, and so drops, the welcome
	valid := b.cookie(cookieName)
	for _, h := range []string{
		cookieName + "=; " + cookieName + "=" + valid,
		cookieName + "=" + staleToken(1) + "; " + cookieName + "=" + valid,
		cookieName + "=x; " + cookieName + "=" + valid + "; other=1",
		cookieName + "=" + valid + "; " + cookieName + "=" + staleToken(2),
	} {
		r := withCookie(t, a.URL, http.MethodGet, "/dashboard", h, "")
		if r.StatusCode != http.StatusOK {
			t.Errorf("Cookie: %.60s...: got %d, want 200", h, r.StatusCode)
		}
		if sc := r.Header.Values("Set-Cookie"); len(sc) > 0 {
			t.Errorf("Cookie: %.60s...: got Set-Cookie %q, want none", h, sc)
		}
	}
	// Neither names a session: anonymous, but nothing is deleted, since
	// the other cookie may be another app's.
	r := withCookie(t, a.URL, http.MethodGet, "/dashboard", cookieName+"="+staleToken(3)+"; "+cookieName+"=", "")
	wantRedirect(t, r, "/login")
	if sc := r.Header.Values("Set-Cookie"); len(sc) > 0 {
		t.Errorf("two stale cookies: got Set-Cookie %q, want none", sc)
	}
	if !strings.Contains(a.logs.String(), "several session cookies") {
		t.Error("the collision was not logged")
	}
}

// TestHeadAndMethodNotAllowed (RFC 9110): every GET route answers HEAD
// with the GET's status and headers and no body; every 405 names the
// route's methods in Allow; a missing static file gets the friendly 404.
func TestHeadAndMethodNotAllowed(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("header", "password-1"), "/dashboard")
	routes, ok := a.handler.(chi.Routes)
	if !ok {
		t.Fatalf("the handler is a %T, not a chi router", a.handler)
	}
	var gets []string
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if method == http.MethodGet {
			gets = append(gets, strings.NewReplacer("/*", "/css/main.css").Replace(route))
		}
		return nil
	})
	if err != nil || len(gets) < 10 {
		t.Fatalf("walked %d GET routes, %v", len(gets), err)
	}
	for _, path := range gets {
		get := b.get(path)
		req, _ := http.NewRequest(http.MethodHead, a.URL+path, nil)
		head := b.do(req)
		if head.StatusCode != get.StatusCode {
			t.Errorf("HEAD %s: got %d, GET got %d", path, head.StatusCode, get.StatusCode)
		}
		if head.body != "" {
			t.Errorf("HEAD %s: got a body", path)
		}
		for k := range get.Header {
			if k == "Date" || k == "Content-Length" || k == "Set-Cookie" {
				continue
			}
			if head.Header.Get(k) != get.Header.Get(k) {
				t.Errorf("HEAD %s: %s is %q, GET's %q", path, k, head.Header.Get(k), get.Header.Get(k))
			}
		}
	}
	for path, want := range map[string][]string{
		"/login":                     {"GET", "HEAD", "POST"},
		"/healthz":                   {"GET", "HEAD"},
		"/api/sessions/x":            {"DELETE", "OPTIONS"},
		"/admin/users/u/disable":     {"GET", "HEAD", "POST"},
		"/account/sessions":          {"GET", "HEAD"},
		"/auth/login":                {"OPTIONS", "POST"},
		"/account/password":          {"GET", "HEAD", "POST"},
		"/account/sessions/x/revoke": {"POST"},
	} {
		req, _ := http.NewRequest(http.MethodPut, a.URL+path, nil)
		r := b.do(req)
		wantStatus(t, r, http.StatusMethodNotAllowed)
		var got []string
		for _, v := range r.Header.Values("Allow") {
			for _, m := range strings.Split(v, ",") {
				got = append(got, strings.TrimSpace(m))
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("PUT %s: got Allow %q, want %q", path, got, want)
		}
	}
	r := b.get("/static/no-such-file.css")
	wantStatus(t, r, http.StatusNotFound)
	if got := text(doc(t, r), "h1"); got != "Page not found" {
		t.Errorf("a missing static file: got heading %q, want the friendly 404 page", got)
	}
	if cc := r.Header.Get("Cache-Control"); strings.Contains(cc, "max-age") {
		t.Errorf("a missing static file may be cached: Cache-Control %q", cc)
	}
}

// TestMongoDownFailsFast: with MongoDB stopped, once the app knows it is
// down, sign-ins answer 503 at once instead of waiting MONGO_TIMEOUT each;
// signed-in pages keep working throughout; and when MongoDB is back,
// sign-ins work again by themselves within seconds.
func TestMongoDownFailsFast(t *testing.T) {
	t.Parallel()
	redisURL, _ := testenv.Redis(t)
	dir, port := t.TempDir(), testenv.FreePort(t)
	mongoSrv, err := embedded.StartMongo(context.Background(), dir, port, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mongoSrv.Stop() })
	const mongoTimeout = 4 * time.Second
	a := newApp(t, backends{redisURL: redisURL, mongoURI: mongoSrv.URI, mongoDB: "edges"}, options{mongoTimeout: mongoTimeout})
	signedIn := newBrowser(t, a.URL)
	wantRedirect(t, signedIn.signup("steady", "password-1"), "/dashboard")

	if err := mongoSrv.Stop(); err != nil {
		t.Fatal(err)
	}
	login := func() (response, time.Duration) {
		start := time.Now()
		r := newBrowser(t, a.URL).postJSON("/auth/login", `{"username":"steady","password":"password-1"}`)
		return r, time.Since(start)
	}
	// The first attempts wait for the driver to give up (the breaker
	// opens after two).
	for range 2 {
		r, _ := login()
		wantStatus(t, r, http.StatusServiceUnavailable)
	}
	// From then on, each answers without waiting for MONGO_TIMEOUT.
	for range 5 {
		r, took := login()
		wantStatus(t, r, http.StatusServiceUnavailable)
		if took > mongoTimeout/2 {
			t.Errorf("a sign-in with MongoDB known to be down took %v; want a 503 without waiting for MONGO_TIMEOUT (%v)", took, mongoTimeout)
		}
		if r.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	}
	wantStatus(t, signedIn.get("/dashboard"), http.StatusOK)

	mongoSrv, err = embedded.StartMongo(context.Background(), dir, port, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mongoSrv.Stop() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, _ := login()
		if r.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sign-in still %d 15 s after MongoDB came back", r.StatusCode)
		}
		time.Sleep(200 * time.Millisecond)
	}
	wantStatus(t, signedIn.get("/dashboard"), http.StatusOK)
}

// TestRedisRefusingWrites: Redis at maxmemory with noeviction answers
// reads but refuses writes. Sign-ins must get the friendly 503, /readyz
// must say redis is failing, and page views that write nothing keep
// working.
func TestRedisRefusingWrites(t *testing.T) {
	t.Parallel()
	redisURL, _ := testenv.Redis(t)
	uri, db := testenv.Mongo(t)
	a := newApp(t, backends{redisURL: redisURL, mongoURI: uri, mongoDB: db}, options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("reader", "password-1"), "/dashboard")
	wantStatus(t, b.get("/dashboard"), http.StatusOK) // shows, and so drops, the welcome
	wantStatus(t, b.get("/readyz"), http.StatusOK)

	c := testenv.DialRedis(t, redisURL)
	if _, err := c.Do("CONFIG", "SET", "maxmemory-policy", "noeviction"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do("CONFIG", "SET", "maxmemory", "1"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = c.Do("CONFIG", "SET", "maxmemory", "0") })

	wantStatus(t, b.get("/dashboard"), http.StatusOK)
	r := newBrowser(t, a.URL).login("reader", "password-1")
	wantStatus(t, r, http.StatusServiceUnavailable)
	if got := text(doc(t, r), "h1"); got != "Temporarily unavailable" {
		t.Errorf("sign-in with Redis refusing writes: got heading %q", got)
	}
	r = b.get("/readyz")
	wantStatus(t, r, http.StatusServiceUnavailable)
	if m := jsonBody(t, r); fmt.Sprint(m["failed"]) != "[redis]" {
		t.Errorf("readyz: got %v, want redis failing", m)
	}

	if _, err := c.Do("CONFIG", "SET", "maxmemory", "0"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, b.get("/readyz"), http.StatusOK)
	wantRedirect(t, newBrowser(t, a.URL).login("reader", "password-1"), "/dashboard")
}

// TestEvictionPolicyWarning: a Redis that may evict keys could drop
// sessions silently; the app says so when it starts.
func TestEvictionPolicyWarning(t *testing.T) {
	t.Parallel()
	redisURL, _ := testenv.Redis(t, "--maxmemory-policy", "allkeys-lru")
	uri, db := testenv.Mongo(t)
	a := newApp(t, backends{redisURL: redisURL, mongoURI: uri, mongoDB: db}, options{})
	if logs := a.logs.String(); !strings.Contains(logs, "maxmemory-policy") || !strings.Contains(logs, "allkeys-lru") {
		t.Errorf("no warning about the eviction policy:\n%s", logs)
	}
	quiet := newApp(t, newBackends(t), options{})
	if strings.Contains(quiet.logs.String(), "maxmemory-policy") {
		t.Errorf("a warning with noeviction:\n%s", quiet.logs.String())
	}
}

// TestUnicodeInForms: a username typed with a composed or a decomposed
// accent, in full-width forms, or with spaces around it names one account,
// in the forms and in the JSON API alike.
func TestUnicodeInForms(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	// Registered through the form with a composed é ...
	wantRedirect(t, newBrowser(t, a.URL).signup("Jos\u00e9", "password-1"), "/dashboard")
	spellings := []string{"Jos\u00e9", "Jose\u0301", "  jos\u00e9 ", "\uff2a\uff4f\uff53\u00e9", "JOSE\u0301"}
	for _, name := range spellings {
		b := newBrowser(t, a.URL)
		if r := b.login(name, "password-1"); r.StatusCode != http.StatusSeeOther {
			t.Errorf("form sign-in as %q: got %d, want 303", name, r.StatusCode)
		}
		body := fmt.Sprintf(`{"username":%q,"password":"password-1"}`, name)
		if r := newBrowser(t, a.URL).postJSON("/auth/login", body); r.StatusCode != http.StatusOK {
			t.Errorf("API sign-in as %q: got %d, want 200", name, r.StatusCode)
		}
		// ... and no spelling registers a second account.
		if r := newBrowser(t, a.URL).signup(name, "password-1"); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("form sign-up as %q: got %d, want 422 (taken)", name, r.StatusCode)
		}
		reg := fmt.Sprintf(`{"username":%q,"password":"password-1"}`, name)
		if r := newBrowser(t, a.URL).postJSON("/auth/register", reg); r.StatusCode != http.StatusConflict {
			t.Errorf("API sign-up as %q: got %d, want 409", name, r.StatusCode)
		}
	}
}
