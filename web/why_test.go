package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/web"
)

// TestSignedOutSaysWhy: a person whose session ended lands on the sign-in
// page with the reason, in their own words: signed out from another
// device, for their security (a password or role change), or expired.
func TestSignedOutSaysWhy(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now})
	laptop, phone := newBrowser(t, a.URL), newBrowser(t, a.URL)
	wantRedirect(t, laptop.signup("ada", "password-1"), "/dashboard")
	wantRedirect(t, phone.login("ada", "password-1"), "/dashboard")
	wantRedirect(t, laptop.postForm("/account/sessions/revoke-others", nil), "/account/sessions")

	for _, tt := range []struct {
		name string
		b    *browser
		why  string
		text string
	}{
		{"revoked from another device", phone, "elsewhere", "You were signed out because your session was signed out from another device. Sign in again to go on."},
	} {
		r := tt.b.get("/account/sessions")
		wantRedirect(t, r, "/login?next=%2Faccount%2Fsessions&why="+tt.why)
		d := doc(t, tt.b.get(r.Header.Get("Location")))
		if got := text(d, "#flash"); got != tt.text {
			t.Errorf("%s: the sign-in page says %q, want %q", tt.name, got, tt.text)
		}
	}

	// A password change on the laptop: the phone is told it was for its
	// security.
	wantRedirect(t, phone.login("ada", "password-1"), "/dashboard")
	wantRedirect(t, laptop.postForm("/account/password", url.Values{"new_password": {"password-2"}, "new_password_confirm": {"password-2"}}), "/account/sessions")
	r := phone.get("/dashboard")
	wantRedirect(t, r, "/login?why=security")
	if got := text(doc(t, phone.get("/login?why=security")), "#flash"); !strings.Contains(got, "because your password or role changed") {
		t.Errorf("after a password change elsewhere: %q", got)
	}

	// Idle for longer than the idle timeout: expired.
	clock.advance(31 * time.Minute)
	wantRedirect(t, laptop.get("/dashboard"), "/login?why=expired")
	if got := text(doc(t, laptop.get("/login?why=expired")), "#flash"); !strings.Contains(got, "because your session expired") {
		t.Errorf("after the idle timeout: %q", got)
	}

	// Signing out oneself leaves no tombstone: an old copy of the cookie
	// is told nothing.
	mine := newBrowser(t, a.URL)
	wantRedirect(t, mine.login("ada", "password-2"), "/dashboard")
	token := mine.cookie(cookieName)
	wantRedirect(t, mine.postForm("/logout", nil), "/login?signed_out=1")
	old := newBrowser(t, a.URL)
	old.c.Jar.SetCookies(mustURL(t, a.URL), []*http.Cookie{{Name: cookieName, Value: token}})
	wantRedirect(t, old.get("/dashboard"), "/login")
}

// TestRevokedCookieIsNoGuess: the cookie of a session ended from
// elsewhere is not counted as a guessed token, however often it comes
// back, so its owner is never throttled for it.
func TestRevokedCookieIsNoGuess(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{guessLimit: 2})
	laptop, phone := newBrowser(t, a.URL), newBrowser(t, a.URL)
	wantRedirect(t, laptop.signup("ada", "password-1"), "/dashboard")
	wantRedirect(t, phone.login("ada", "password-1"), "/dashboard")
	token := phone.cookie(cookieName)
	wantRedirect(t, laptop.postForm("/account/sessions/revoke-others", nil), "/account/sessions")
	for i := range 5 {
		b := newBrowser(t, a.URL)
		b.c.Jar.SetCookies(mustURL(t, a.URL), []*http.Cookie{{Name: cookieName, Value: token}})
		if r := b.get("/dashboard"); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("request %d with the revoked cookie: got %d, want 303 to the sign-in page", i+1, r.StatusCode)
		}
	}
}

// TestRevokedMidRequestStaysRevoked: a request that loaded its session
// before another device revoked it does not bring it back when it saves
// at its touch: the tombstone is not a session to update.
func TestRevokedMidRequestStaysRevoked(t *testing.T) {
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
	u, err := a.users.ByUsername(context.Background(), "revoked")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	revoke = func() {
		revoke = nil
		if _, err := a.index.RevokeAll(context.Background(), u.ID, "", session.EndedElsewhere); err != nil {
			t.Errorf("RevokeAll: %v", err)
		}
	}
	mu.Unlock()
	clock.advance(61 * time.Second)
	b.get("/dashboard") // loaded before the revocation; its touch saves
	c := a.pool.Get()
	defer c.Close()
	n, err := redigo.Int(c.Do("STRLEN", session.DataKey(b.cookie(cookieName))))
	if err != nil || n != 2 {
		t.Fatalf("after the request, the session's key holds %d bytes (%v), want the 2-byte tombstone", n, err)
	}
	wantRedirect(t, b.get("/dashboard"), "/login?why=elsewhere")
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
