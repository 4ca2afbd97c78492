package web_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/user"
	"github.com/gatehouse/gatehouse/web"
)

// TestPageViewIsOneRedisRoundTrip: once signed in, viewing an unchanged
// session's page costs one Redis command (the GET) and sends no cookie,
// until the touch interval has passed.
func TestPageViewIsOneRedisRoundTrip(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("frugal", "password-1"), "/dashboard")
	wantStatus(t, b.get("/dashboard"), http.StatusOK) // pops the welcome flash

	c := a.pool.Get()
	defer c.Close()
	testenv.ResetStats(t, c)
	const views = 10
	for range views {
		r := b.get("/dashboard")
		wantStatus(t, r, http.StatusOK)
		if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
			t.Fatalf("steady-state page view sent Set-Cookie: %v", sc)
		}
		r = b.get("/api/dashboard")
		wantStatus(t, r, http.StatusOK)
	}
	calls := testenv.CommandCalls(t, c)
	// Our own RESETSTAT, and the name a new pooled connection gives
	// itself (this test borrowed one of the pool's connections).
	delete(calls, "config|resetstat")
	delete(calls, "client|setname")
	total := 0
	for _, n := range calls {
		total += n
	}
	if total != 2*views || calls["get"] != 2*views {
		t.Fatalf("got %v for %d page views, want exactly one GET each", calls, 2*views)
	}

	// After the touch interval, one request refreshes the idle deadline:
	// the GET and one script that rewrites "last seen" and the expiry in
	// place (session.Index.Touch), once a minute per session. The cookie
	// is unchanged, so none is sent.
	clock.advance(61 * time.Second)
	testenv.ResetStats(t, c)
	r := b.get("/dashboard")
	wantStatus(t, r, http.StatusOK)
	if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("the touch sent Set-Cookie: %v", sc)
	}
	calls = testenv.CommandCalls(t, c)
	delete(calls, "config|resetstat")
	delete(calls, "client|setname")
	delete(calls, "getrange") // inside the script
	delete(calls, "setrange")
	delete(calls, "pexpireat")
	delete(calls, "eval") // a script's first run: EVALSHA, refused with NOSCRIPT, then EVAL
	if len(calls) != 2 || calls["get"] != 1 || calls["evalsha"] != 1 {
		t.Fatalf("touch: got %v, want the GET and one script", calls)
	}
	wantStatus(t, b.get("/dashboard"), http.StatusOK)
}

// hookedUsers runs beforeByID when the router looks a user up.
type hookedUsers struct {
	web.Users
	beforeByID func()
}

func (u hookedUsers) ByID(ctx context.Context, id string) (*user.User, error) {
	u.beforeByID()
	return u.Users.ByID(ctx, id)
}

// TestSessionRevokedMidRequestStaysRevoked: a request that loaded a
// session before another device revoked it does not write it back when it
// saves. The once-a-minute touch saves the session and looks the user up
// first, which is where the revocation lands here.
func TestSessionRevokedMidRequestStaysRevoked(t *testing.T) {
	t.Parallel()
	clock := newClock()
	var mu sync.Mutex
	var revoke func()
	a := newApp(t, newBackends(t), options{now: clock.now, wrapUsers: func(u web.Users) web.Users {
		return hookedUsers{Users: u, beforeByID: func() {
			mu.Lock()
			defer mu.Unlock()
			if revoke != nil {
				revoke()
			}
		}}
	}})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("revoked", "password-1"), "/dashboard")
	key := sessionKeys(t, a, 1)[0]
	c := a.pool.Get()
	defer c.Close()
	mu.Lock()
	revoke = func() {
		if _, err := c.Do("DEL", key); err != nil {
			t.Errorf("DEL: %v", err)
		}
	}
	mu.Unlock()

	clock.advance(61 * time.Second)
	wantStatus(t, b.get("/dashboard"), http.StatusOK) // loaded before the revocation
	if n, err := redigo.Int(c.Do("EXISTS", key)); err != nil || n != 0 {
		t.Fatalf("EXISTS after the request: got %d, %v; want 0: the save brought the revoked session back", n, err)
	}
	wantRedirect(t, b.get("/dashboard"), "/login")
}

// TestIdleTimeout: activity keeps a session alive; 30 minutes without it
// end it, even though a touch happens only once a minute.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("idler", "password-1"), "/dashboard")
	for range 3 {
		clock.advance(20 * time.Minute)
		wantStatus(t, b.get("/dashboard"), http.StatusOK)
	}
	// Within a touch interval the deadline is still enforced exactly.
	clock.advance(30*time.Minute - time.Second)
	wantStatus(t, b.get("/dashboard"), http.StatusOK)
	clock.advance(30 * time.Minute)
	r := b.get("/dashboard")
	wantRedirect(t, r, "/login?why=expired")
	if c := setCookie(r, cookieName); c == nil || c.MaxAge >= 0 {
		t.Fatalf("expired session's cookie not cleared: %+v", c)
	}
	if !strings.Contains(a.logs.String(), "idle timeout") {
		t.Error("no log line for the idle expiry")
	}
}

// TestIdleSessionLeavesRedis: Redis's TTL follows the idle deadline, not
// the 24 h lifetime, so abandoned sessions do not linger.
func TestIdleSessionLeavesRedis(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("leaver", "password-1"), "/dashboard")
	keys := sessionKeys(t, a, 1)
	c := a.pool.Get()
	defer c.Close()
	ttl, err := redigo.Int64(c.Do("PTTL", keys[0]))
	if err != nil || ttl <= 0 || ttl > (30*time.Minute).Milliseconds() {
		t.Fatalf("got PTTL %d ms, %v; want at most the 30 min idle timeout", ttl, err)
	}
}

// TestAbsoluteLifetimeSurvivesRenewal: neither activity nor a token
// renewal (confirming the password) extends the lifetime counted from
// sign-in.
func TestAbsoluteLifetimeSurvivesRenewal(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now, policy: session.Policy{Lifetime: time.Hour}})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("mortal", "password-1"), "/dashboard")
	first := b.cookie(cookieName)
	clock.advance(25 * time.Minute)
	wantStatus(t, b.get("/dashboard"), http.StatusOK)
	clock.advance(20 * time.Minute)
	// RenewToken: confirm the password, on a sensitive action's form.
	wantRedirect(t, b.postForm("/account/sessions/revoke-others", url.Values{"password": {"password-1"}}), "/account/sessions")
	if b.cookie(cookieName) == first {
		t.Fatal("confirming the password did not renew the token")
	}
	clock.advance(14 * time.Minute) // 59 min after sign-in
	wantStatus(t, b.get("/dashboard"), http.StatusOK)
	clock.advance(time.Minute + time.Second) // past 1 h
	wantRedirect(t, b.get("/dashboard"), "/login?why=expired")
}

// TestRememberMe: the cookie persists for 30 days and no idle timeout
// applies; unticked, the cookie dies with the browser.
func TestRememberMe(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now})
	wantRedirect(t, newBrowser(t, a.URL).signup("rememberer", "password-1"), "/dashboard")

	b := newBrowser(t, a.URL)
	r := b.postForm("/login", url.Values{"username": {"rememberer"}, "password": {"password-1"}, "remember": {"1"}})
	wantRedirect(t, r, "/dashboard")
	c := setCookie(r, cookieName)
	if c == nil || c.MaxAge < 30*24*3600-60 || c.MaxAge > 30*24*3600+60 {
		t.Fatalf("remembered cookie: got %+v, want Max-Age of 30 days", c)
	}
	clock.advance(3 * time.Hour) // far past the idle timeout
	wantStatus(t, b.get("/dashboard"), http.StatusOK)
	clock.advance(30*24*time.Hour - 3*time.Hour)
	wantRedirect(t, b.get("/dashboard"), "/login?why=expired")

	r = newBrowser(t, a.URL).login("rememberer", "password-1")
	if c := setCookie(r, cookieName); c == nil || c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Fatalf("unticked: got %+v, want a browser-session cookie", c)
	}
	// The API takes "remember" too, as a boolean.
	r = newBrowser(t, a.URL).postJSON("/auth/login", `{"username":"rememberer","password":"password-1","remember":true}`)
	if c := setCookie(r, cookieName); c == nil || c.MaxAge <= 0 {
		t.Fatalf("API remember: got %+v", c)
	}
	r = newBrowser(t, a.URL).postJSON("/auth/login", `{"username":"rememberer","password":"password-1","remember":"yes"}`)
	wantStatus(t, r, http.StatusBadRequest)
}

// signInAs signs a user in from a browser that says it is ua.
func signInAs(t *testing.T, base, username, ua string) *browser {
	t.Helper()
	b := newBrowser(t, base)
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(url.Values{"username": {username}, "password": {"password-1"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("User-Agent", ua)
	wantRedirect(t, b.do(req), "/dashboard")
	return b
}

const (
	uaChromeLinux  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
	uaFirefoxMac   = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0"
	uaSafariIPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

type apiSession struct {
	ID      string `json:"id"`
	Current bool   `json:"current"`
	Device  string `json:"device"`
	IP      string `json:"ip"`
}

func listSessions(t *testing.T, b *browser) []apiSession {
	t.Helper()
	r := b.get("/api/sessions")
	wantStatus(t, r, http.StatusOK)
	var body struct {
		Sessions []apiSession `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatal(err)
	}
	return body.Sessions
}

// TestSessionsPageAndRevocation: the page lists every session newest
// first with the current one marked; signing one out makes it anonymous
// at once, on another app instance too.
func TestSessionsPageAndRevocation(t *testing.T) {
	t.Parallel()
	clock := newClock()
	be := newBackends(t)
	a := newApp(t, be, options{now: clock.now})
	other := newApp(t, be, options{now: clock.now})
	wantRedirect(t, newBrowser(t, a.URL).signup("traveller", "password-1"), "/dashboard")
	clock.advance(time.Second)
	laptop := signInAs(t, a.URL, "traveller", uaChromeLinux)
	clock.advance(time.Second)
	mac := signInAs(t, a.URL, "traveller", uaFirefoxMac)
	clock.advance(time.Second)
	phone := signInAs(t, a.URL, "traveller", uaSafariIPhone)
	// The phone's cookie also works on the other instance.
	phoneThere := newBrowser(t, other.URL)
	u, _ := url.Parse(other.URL)
	phoneThere.c.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: phone.cookie(cookieName), Path: "/"}})
	wantStatus(t, phoneThere.get("/dashboard"), http.StatusOK)

	r := laptop.get("/account/sessions")
	wantStatus(t, r, http.StatusOK)
	d := doc(t, r)
	rows := d.Find("#sessions tbody tr")
	if rows.Length() != 4 {
		t.Fatalf("got %d rows, want 4 (signup + three devices)", rows.Length())
	}
	if got := strings.TrimSpace(rows.First().Find("td").First().Text()); !strings.HasPrefix(got, "Safari on iOS") {
		t.Fatalf("newest first: got first row %q", got)
	}
	if cur := d.Find(`#sessions tr[aria-current="true"]`); cur.Length() != 1 || !strings.Contains(cur.Text(), "Chrome on Linux") || !strings.Contains(cur.Text(), "This session") {
		t.Fatalf("current session not marked: %q", cur.Text())
	}

	// Sign the phone out from the laptop.
	list := listSessions(t, laptop)
	var phoneID string
	for _, s := range list {
		if s.Device == "Safari on iOS" {
			phoneID = s.ID
		}
	}
	if phoneID == "" || len(list) != 4 {
		t.Fatalf("API list: %+v", list)
	}
	wantRedirect(t, laptop.postForm("/account/sessions/"+phoneID+"/revoke", nil), "/account/sessions")
	wantRedirect(t, phoneThere.get("/dashboard"), "/login?why=elsewhere") // the very next request, elsewhere
	wantRedirect(t, phone.get("/dashboard"), "/login?why=elsewhere")
	if got := len(listSessions(t, laptop)); got != 3 {
		t.Fatalf("after revoking one: %d sessions, want 3", got)
	}

	// DELETE /api/sessions/{id} from the Mac signs out the laptop.
	var laptopID string
	for _, s := range listSessions(t, mac) {
		if s.Device == "Chrome on Linux" {
			laptopID = s.ID
		}
	}
	req, _ := http.NewRequest(http.MethodDelete, a.URL+"/api/sessions/"+laptopID, nil)
	wantStatus(t, mac.do(req), http.StatusNoContent)
	wantStatus(t, laptop.get("/api/dashboard"), http.StatusUnauthorized)
	req, _ = http.NewRequest(http.MethodDelete, a.URL+"/api/sessions/"+laptopID, nil)
	wantStatus(t, mac.do(req), http.StatusNotFound)
	req, _ = http.NewRequest(http.MethodDelete, a.URL+"/api/sessions/not-an-id", nil)
	wantStatus(t, mac.do(req), http.StatusNotFound)
}

// TestSessionIDsOfOthersAreUseless: a user cannot see or end another
// user's sessions by id.
func TestSessionIDsOfOthersAreUseless(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	alice := newBrowser(t, a.URL)
	wantRedirect(t, alice.signup("alice2", "password-1"), "/dashboard")
	mallory := newBrowser(t, a.URL)
	wantRedirect(t, mallory.signup("mallory2", "password-1"), "/dashboard")
	aliceID := listSessions(t, alice)[0].ID
	if got := listSessions(t, mallory); len(got) != 1 || got[0].ID == aliceID {
		t.Fatalf("mallory sees %+v", got)
	}
	req, _ := http.NewRequest(http.MethodDelete, a.URL+"/api/sessions/"+aliceID, nil)
	wantStatus(t, mallory.do(req), http.StatusNotFound)
	wantRedirect(t, mallory.postForm("/account/sessions/"+aliceID+"/revoke", nil), "/account/sessions")
	wantStatus(t, alice.get("/dashboard"), http.StatusOK)
}

// TestSignOutOthersNeedsRecentPassword: after 10 minutes the action asks
// for the password again, on its own confirmation page, then does its job:
// it is never dropped.
func TestSignOutOthersNeedsRecentPassword(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now})
	wantRedirect(t, newBrowser(t, a.URL).signup("careful", "password-1"), "/dashboard")
	other := signInAs(t, a.URL, "careful", uaFirefoxMac)
	me := signInAs(t, a.URL, "careful", uaChromeLinux)
	clock.advance(11 * time.Minute)
	wantStatus(t, other.get("/dashboard"), http.StatusOK)

	// The button leads to the confirmation page, which asks for the
	// password and names the action.
	r := me.get("/account/sessions/revoke-others")
	wantStatus(t, r, http.StatusOK)
	d := doc(t, r)
	if got := text(d, "#why-password"); got != "Confirm your password to sign out all your other sessions." {
		t.Errorf("confirmation page: got %q", got)
	}
	if d.Find(`form[action="/account/sessions/revoke-others"] input[name="password"]`).Length() != 1 {
		t.Fatal("the confirmation form has no password field")
	}
	// Posting without the password shows that page too; nothing happens.
	wantStatus(t, me.postForm("/account/sessions/revoke-others", nil), http.StatusOK)
	wantStatus(t, other.get("/dashboard"), http.StatusOK)
	r = me.postForm("/account/sessions/revoke-others", url.Values{"password": {"wrong-pass"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantStatus(t, other.get("/dashboard"), http.StatusOK)
	wantRedirect(t, me.postForm("/account/sessions/revoke-others", url.Values{"password": {"password-1"}}), "/account/sessions")
	wantRedirect(t, other.get("/dashboard"), "/login?why=elsewhere")
	wantStatus(t, me.get("/dashboard"), http.StatusOK)
	if got := len(listSessions(t, me)); got != 1 {
		t.Fatalf("%d sessions left, want 1", got)
	}
	// Within the window, no password is asked.
	wantRedirect(t, me.postForm("/account/sessions/revoke-others", nil), "/account/sessions")
}

// TestPasswordChange: it needs a recent password, rotates this session's
// token, signs out the others, and the old password stops working.
func TestPasswordChange(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now})
	wantRedirect(t, newBrowser(t, a.URL).signup("changer", "password-1"), "/dashboard")
	other := signInAs(t, a.URL, "changer", uaFirefoxMac)
	me := signInAs(t, a.URL, "changer", uaChromeLinux)
	before := me.cookie(cookieName)

	// Within the reauthentication window the form does not ask for the
	// current password again.
	if doc(t, me.get("/account/password")).Find("#current_password").Length() != 0 {
		t.Error("the password form asks for the current password right after sign-in")
	}
	clock.advance(11 * time.Minute)
	// Past it, it asks, once.
	r := me.get("/account/password")
	wantStatus(t, r, http.StatusOK)
	if doc(t, r).Find("#current_password").Length() != 1 {
		t.Fatal("past the window, the password form does not ask for the current password")
	}

	for _, tt := range []struct {
		form  url.Values
		field string
	}{
		{url.Values{"current_password": {"wrong-pass"}, "new_password": {"password-2"}, "new_password_confirm": {"password-2"}}, "current_password"},
		{url.Values{"current_password": {"password-1"}, "new_password": {"short"}, "new_password_confirm": {"short"}}, "new_password"},
		{url.Values{"current_password": {"password-1"}, "new_password": {"password-2"}, "new_password_confirm": {"password-3"}}, "new_password_confirm"},
	} {
		r := me.postForm("/account/password", tt.form)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if fieldError(doc(t, r), tt.field) == "" {
			t.Errorf("no error on %s", tt.field)
		}
	}
	r = me.postForm("/account/password", url.Values{"current_password": {"password-1"}, "new_password": {"password-2"}, "new_password_confirm": {"password-2"}})
	wantRedirect(t, r, "/account/sessions")
	if after := me.cookie(cookieName); after == before || after == "" {
		t.Fatal("the token did not change")
	}
	wantStatus(t, me.get("/dashboard"), http.StatusOK)
	wantRedirect(t, other.get("/dashboard"), "/login?why=security")
	wantStatus(t, newBrowser(t, a.URL).login("changer", "password-1"), http.StatusUnprocessableEntity)
	wantRedirect(t, newBrowser(t, a.URL).login("changer", "password-2"), "/dashboard")

	// The JSON twin: the current password in the body is the confirmation.
	wantStatus(t, me.postJSON("/api/password", `{"current_password":"wrong-pass","new_password":"password-3"}`), http.StatusForbidden)
	wantStatus(t, me.postJSON("/api/password", `{"current_password":"password-2","new_password":"short"}`), http.StatusBadRequest)
	wantStatus(t, me.postJSON("/api/password", `{"current_password":"password-2","new_password":"password-3"}`), http.StatusOK)
	wantRedirect(t, newBrowser(t, a.URL).login("changer", "password-3"), "/dashboard")
}

// TestDeletedOrDisabledUserSession: a session that names a user who was
// deleted, or disabled behind the app's back, ends at the next touch.
func TestDeletedOrDisabledUserSession(t *testing.T) {
	t.Parallel()
	clock := newClock()
	be := newBackends(t)
	a := newApp(t, be, options{now: clock.now})
	gone := newBrowser(t, a.URL)
	wantRedirect(t, gone.signup("ghost", "password-1"), "/dashboard")
	off := newBrowser(t, a.URL)
	wantRedirect(t, off.signup("sleeper", "password-1"), "/dashboard")

	ctx := context.Background()
	g, _ := a.users.ByUsername(ctx, "ghost")
	s, _ := a.users.ByUsername(ctx, "sleeper")
	deleteUser(t, be, g.ID)
	disableInDB(t, be, s.ID)

	clock.advance(61 * time.Second)
	wantRedirect(t, gone.get("/dashboard"), "/login?why=security")
	wantRedirect(t, off.get("/dashboard"), "/login?why=security")
	if n := strings.Count(a.logs.String(), "session names a deleted or disabled user"); n != 2 {
		t.Fatalf("got %d warnings, want 2", n)
	}
}

// TestAuditEvents: each security event is one log line with the user, the
// public session id, the IP and the request id, and never a secret.
func TestAuditEvents(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("audited", "password-1"), "/dashboard")
	wantStatus(t, newBrowser(t, a.URL).login("audited", "wrong-pass"), http.StatusUnprocessableEntity)
	other := signInAs(t, a.URL, "audited", uaFirefoxMac)
	wantRedirect(t, b.postForm("/account/sessions/revoke-others", nil), "/account/sessions")
	wantStatus(t, b.postJSON("/api/password", `{"current_password":"password-1","new_password":"password-2"}`), http.StatusOK)
	wantRedirect(t, b.postForm("/logout", nil), "/login?signed_out=1")

	logs := a.logs.String()
	for _, event := range []string{"login_success", "login_failure", "session_revoked", "password_changed", "logout"} {
		line := ""
		for _, l := range strings.Split(logs, "\n") {
			if strings.Contains(l, "msg=audit") && strings.Contains(l, "event="+event) {
				line = l
				break
			}
		}
		if line == "" {
			t.Errorf("no audit line for %s", event)
			continue
		}
		for _, field := range []string{"user_id=", "session_id=", "ip=", "request_id="} {
			if !strings.Contains(line, field) {
				t.Errorf("%s line lacks %s: %s", event, field, line)
			}
		}
		// slog's text handler writes an empty value as "".
		if event != "login_failure" && (strings.Contains(line, `user_id=""`) || strings.Contains(line, `session_id=""`)) {
			t.Errorf("%s line has an empty id: %s", event, line)
		}
	}
	for _, secret := range []string{"password-1", "password-2", b.cookie(cookieName), other.cookie(cookieName)} {
		if secret != "" && strings.Contains(logs, secret) {
			t.Errorf("a secret reached the log: %.8s...", secret)
		}
	}
}

// TestRedisBytesPerSession measures the Redis memory of one signed-in
// session with its index entry, and reports it.
func TestRedisBytesPerSession(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	const n = 20
	wantRedirect(t, newBrowser(t, a.URL).signup("memory", "password-1"), "/dashboard")
	for range n - 1 {
		wantRedirect(t, newBrowser(t, a.URL).login("memory", "password-1"), "/dashboard")
	}
	c := a.pool.Get()
	defer c.Close()
	usage := func(pattern string) (int, int) {
		keys, err := redigo.Strings(c.Do("KEYS", pattern))
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, k := range keys {
			b, err := redigo.Int(c.Do("MEMORY", "USAGE", k, "SAMPLES", "0"))
			if err != nil {
				t.Fatal(err)
			}
			total += b
		}
		return total, len(keys)
	}
	data, nd := usage(session.DataKeyPattern)
	index, ni := usage("u{*}")
	if nd != n || ni != 1 {
		t.Fatalf("got %d sessions and %d indexes, want %d and 1", nd, ni, n)
	}
	per := (data + index) / n
	t.Logf("Redis bytes per session: %d (session data %d, share of the user's index %d)", per, data/n, index/n)
	if per > 2048 {
		t.Errorf("a session costs %d bytes in Redis, want under 2 KiB", per)
	}
}

// TestListAndRevokeRoundTrips: listing and revoking cost a few commands
// that depend on the user's sessions alone, however many keys Redis holds:
// the user's index (and a check for one in the layout before), then each
// session's data.
func TestListAndRevokeRoundTrips(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	wantRedirect(t, newBrowser(t, a.URL).signup("counted", "password-1"), "/dashboard")
	victim := signInAs(t, a.URL, "counted", uaFirefoxMac)
	me := signInAs(t, a.URL, "counted", uaChromeLinux)
	// Load the scripts once: the first use of a script on a Redis costs
	// an extra EVAL after EVALSHA's NOSCRIPT.
	listSessions(t, me)
	req, _ := http.NewRequest(http.MethodDelete, a.URL+"/api/sessions/AAAAAAAAAAAAAAAAAAAAAA", nil)
	wantStatus(t, me.do(req), http.StatusNotFound)
	c := a.pool.Get()
	defer c.Close()

	// INFO commandstats also counts the commands a script runs inside
	// Redis; leave those out.
	inScript := map[string]bool{"hget": true, "hdel": true}
	count := func(do func()) map[string]int {
		testenv.ResetStats(t, c)
		do()
		calls := testenv.CommandCalls(t, c)
		delete(calls, "config|resetstat")
		delete(calls, "client|setname")
		delete(calls, "eval") // a script's first run: EVALSHA, refused with NOSCRIPT, then EVAL
		for k := range calls {
			if inScript[k] {
				delete(calls, k)
			}
		}
		return calls
	}
	var victimID string
	calls := count(func() {
		for _, s := range listSessions(t, me) {
			if s.Device == "Firefox on Linux" || s.Device == "Firefox on macOS" {
				victimID = s.ID
			}
		}
	})
	want := map[string]int{"get": 1 + 3, "pttl": 3, "hgetall": 1, "exists": 1}
	if !maps.Equal(calls, want) {
		t.Fatalf("listing: got %v, want %v: the session GET, the index, and each session's data", calls, want)
	}
	calls = count(func() {
		req, _ := http.NewRequest(http.MethodDelete, a.URL+"/api/sessions/"+victimID, nil)
		wantStatus(t, me.do(req), http.StatusNoContent)
	})
	// The data becomes a tombstone (SET), so the victim hears why.
	want = map[string]int{"get": 1, "hgetall": 1, "exists": 1, "set": 1, "evalsha": 1}
	if !maps.Equal(calls, want) {
		t.Fatalf("revoking: got %v, want %v", calls, want)
	}
	wantRedirect(t, victim.get("/dashboard"), "/login?why=elsewhere")
}
