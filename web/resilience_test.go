package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestSessionSurvivesAppRestart: a new server process on the same Redis
// accepts the session the old one issued.
func TestSessionSurvivesAppRestart(t *testing.T) {
	t.Parallel()
	be := newBackends(t)
	first := newApp(t, be, options{})
	b := newBrowser(t, first.URL)
	wantRedirect(t, b.signup("ivan", "password-1"), "/dashboard")
	token := b.cookie(cookieName)
	first.Close()

	second := newApp(t, be, options{})
	b2 := newBrowser(t, second.URL)
	u, _ := url.Parse(second.URL)
	b2.c.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: token, Path: "/"}})
	r := b2.get("/dashboard")
	wantStatus(t, r, http.StatusOK)
	if got := text(doc(t, r), "#username"); got != "ivan" {
		t.Fatalf("got %q, want ivan", got)
	}
}

// TestTwoInstancesShareSessions: log in on A, use the session on B.
func TestTwoInstancesShareSessions(t *testing.T) {
	t.Parallel()
	be := newBackends(t)
	a, bApp := newApp(t, be, options{}), newApp(t, be, options{})
	onA := newBrowser(t, a.URL)
	r := onA.postJSON("/auth/register", `{"username":"judy","password":"password-1"}`)
	wantStatus(t, r, http.StatusCreated)
	wantStatus(t, onA.postJSON("/auth/login", `{"username":"judy","password":"password-1"}`), http.StatusOK)

	onB := newBrowser(t, bApp.URL)
	u, _ := url.Parse(bApp.URL)
	onB.c.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: onA.cookie(cookieName), Path: "/"}})
	r = onB.get("/api/dashboard")
	wantStatus(t, r, http.StatusOK)
	if m := jsonBody(t, r); m["message"] != "Welcome judy" {
		t.Fatalf("got %v", m)
	}
	// Logout on B ends the session on A too.
	wantStatus(t, onB.postJSON("/auth/logout", ""), http.StatusOK)
	wantStatus(t, onA.get("/api/dashboard"), http.StatusUnauthorized)
}

// TestRedisOutage stops the real redis-server under a signed-in user, checks
// the app degrades politely and quickly, then restarts it and checks the
// app recovers by itself with the session intact (AOF).
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	port := testenv.FreePort(t)
	srv := testenv.RedisServer(t, dir, port, "--appendonly", "yes", "--appendfsync", "always")
	uri, db := testenv.Mongo(t)
	be := backends{redisURL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), mongoURI: uri, mongoDB: db}
	a := newApp(t, be, options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("kim", "password-1"), "/dashboard")
	wantStatus(t, b.get("/readyz"), http.StatusOK)

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	r := b.get("/dashboard")
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("503 took %v, want under 2s", elapsed)
	}
	wantStatus(t, r, http.StatusServiceUnavailable)
	if r.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if got := text(doc(t, r), "h1"); got != "Temporarily unavailable" {
		t.Errorf("got heading %q", got)
	}
	r = b.get("/api/dashboard")
	wantStatus(t, r, http.StatusServiceUnavailable)
	if m := jsonBody(t, r); m["error"] == "" {
		t.Error("API 503 without an error message")
	}
	// A visitor without a cookie can still see the login form.
	wantStatus(t, newBrowser(t, a.URL).get("/login"), http.StatusOK)
	wantStatus(t, b.get("/healthz"), http.StatusOK)
	r = b.get("/readyz")
	wantStatus(t, r, http.StatusServiceUnavailable)
	if m := jsonBody(t, r); fmt.Sprint(m["failed"]) != "[redis]" {
		t.Errorf("readyz: got %v, want redis named as failed", m)
	}
	// Logging in needs Redis to store the session: 503, not 500.
	wantStatus(t, newBrowser(t, a.URL).login("kim", "password-1"), http.StatusServiceUnavailable)

	testenv.RedisServer(t, dir, port, "--appendonly", "yes", "--appendfsync", "always")
	r = b.get("/dashboard")
	wantStatus(t, r, http.StatusOK)
	if got := text(doc(t, r), "#username"); got != "kim" {
		t.Fatalf("after recovery got %q, want kim", got)
	}
	wantStatus(t, b.get("/readyz"), http.StatusOK)
}

// TestMongoOutage: sign-in and sign-up need MongoDB and say so politely (a
// 503 page or JSON with Retry-After, never a 500); pages that only need the
// session keep working.
func TestMongoOutage(t *testing.T) {
	t.Parallel()
	redisURL, _ := testenv.Redis(t)
	m := testenv.MongoServer(t)
	be := backends{redisURL: redisURL, mongoURI: m.URI, mongoDB: "gatehouse"}
	a := newApp(t, be, options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("leo", "password-1"), "/dashboard")
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, b.get("/dashboard"), http.StatusOK)
	wantStatus(t, b.get("/api/dashboard"), http.StatusOK)
	for name, r := range map[string]response{
		"login form":  newBrowser(t, a.URL).login("leo", "password-1"),
		"signup form": newBrowser(t, a.URL).signup("mia", "password-1"),
	} {
		wantStatus(t, r, http.StatusServiceUnavailable)
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", name)
		}
		if got := text(doc(t, r), "h1"); got != "Temporarily unavailable" {
			t.Errorf("%s: got heading %q, want Temporarily unavailable", name, got)
		}
	}
	r := newBrowser(t, a.URL).postJSON("/auth/register", `{"username":"mia","password":"password-1"}`)
	wantStatus(t, r, http.StatusServiceUnavailable)
	if msg, _ := jsonBody(t, r)["error"].(string); r.Header.Get("Retry-After") == "" || !strings.Contains(msg, "try again") {
		t.Errorf("register: got error %q, Retry-After %q; want a message that says to try again", msg, r.Header.Get("Retry-After"))
	}
	r = b.get("/readyz")
	wantStatus(t, r, http.StatusServiceUnavailable)
	if m := jsonBody(t, r); fmt.Sprint(m["failed"]) != "[mongodb]" {
		t.Errorf("readyz: got %v, want mongodb named as failed", m)
	}
}
