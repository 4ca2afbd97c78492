package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/gatehouse/gatehouse/internal/passkey/passkeytest"
)

// The passkey tests drive the real router with a software authenticator
// (internal/passkey/passkeytest) in place of a browser's. The app's
// relying party is localhost (its public URL is on 127.0.0.1), so the
// authenticator answers as a page at http://localhost:PORT would.

// onlyStaticScripts reports whether every script element of d loads a
// file under /static/ and carries no code of its own.
func onlyStaticScripts(d *goquery.Document) bool {
	ok := true
	d.Find("script").Each(func(_ int, s *goquery.Selection) {
		if src, _ := s.Attr("src"); !strings.HasPrefix(src, "/static/") || strings.TrimSpace(s.Text()) != "" {
			ok = false
		}
	})
	return ok
}

// newAuthenticator returns an authenticator for pages of a.
func newAuthenticator(t *testing.T, a *app) *passkeytest.Authenticator {
	t.Helper()
	port := a.URL[strings.LastIndex(a.URL, ":")+1:]
	return passkeytest.New("http://localhost:" + port)
}

// begin posts to a begin endpoint and returns the options (as JSON, for
// the authenticator) and the challenge handle.
func begin(t *testing.T, b *browser, path, body string) (options []byte, challenge string) {
	t.Helper()
	r := b.postJSON(path, body)
	wantStatus(t, r, http.StatusOK)
	var got struct {
		Options   json.RawMessage `json:"options"`
		Challenge string          `json:"challenge"`
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || got.Challenge == "" || len(got.Options) < 10 {
		t.Fatalf("%s: got %.300s, %v; want options and a challenge", path, r.body, err)
	}
	return got.Options, got.Challenge
}

// finishBody is a finish endpoint's body.
func finishBody(t *testing.T, challenge string, credential []byte, extra map[string]any) string {
	t.Helper()
	m := map[string]any{"challenge": challenge, "credential": json.RawMessage(credential)}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// addPasskey registers a passkey named name for b's user, with a new
// authenticator, and returns it.
func addPasskey(t *testing.T, a *app, b *browser, name string) *passkeytest.Authenticator {
	t.Helper()
	auth := newAuthenticator(t, a)
	opts, ch := begin(t, b, "/webauthn/register/begin", "")
	cred, err := auth.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	r := b.postJSON("/webauthn/register/finish", finishBody(t, ch, cred, map[string]any{"name": name}))
	wantStatus(t, r, http.StatusCreated)
	if got := jsonBody(t, r)["redirect"]; got != "/account/passkeys" {
		t.Fatalf("register finish: got redirect %v, want /account/passkeys", got)
	}
	// The handle served once: the same answer again is refused.
	r = b.postJSON("/webauthn/register/finish", finishBody(t, ch, cred, map[string]any{"name": name}))
	wantStatus(t, r, http.StatusBadRequest)
	if got := jsonBody(t, r)["code"]; got != "challenge_invalid" {
		t.Fatalf("replayed registration: got code %v, want challenge_invalid", got)
	}
	return auth
}

func TestPasskeyManage(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{mail: true})
	m := newMailbox(t, a)
	b := newBrowser(t, a.URL)
	signupWithEmail(t, a, m, b, "ada", "correct horse battery", "ada@example.com")

	d := doc(t, b.get("/account/passkeys"))
	if d.Find("#no-passkeys").Length() != 1 || d.Find(`nav a[href="/account/passkeys"][aria-current=page]`).Length() != 1 {
		t.Fatalf("empty passkeys page: want #no-passkeys and the current nav link")
	}
	// Signed up just now: the add form, its button hidden until the
	// script finds WebAuthn.
	if btn := d.Find(`#add-form button#add-passkey[data-passkey=register]`); btn.Length() != 1 || btn.AttrOr("hidden", "x") == "x" {
		t.Fatalf("want the hidden add button in the add form")
	}

	addPasskey(t, a, b, "Laptop")
	if msg := m.next(); !strings.Contains(msg.Subject, "second factor was added") || !strings.Contains(msg.Text, "(passkey)") {
		t.Fatalf("got %q, want the second-factor notice", msg.Subject)
	}
	d = doc(t, b.get("/account/passkeys"))
	if got := text(d, "#passkeys tbody td.passkey-name"); got != "Laptop" {
		t.Fatalf("listed: got %q, want Laptop", got)
	}
	if got := text(d, "#passkeys tbody td[data-label='Last used']"); got != "Never" {
		t.Errorf("last used: got %q, want Never", got)
	}
	if got := text(d, ".flash, [role=status]"); !strings.Contains(got, "Laptop has been added") {
		t.Errorf("flash: got %q", got)
	}
	remove, ok := d.Find(`#passkeys a.danger[href^="/account/passkeys/"]`).Attr("href")
	if !ok {
		t.Fatal("no Remove link")
	}

	// Removing: a confirmation page first, then the POST.
	d = doc(t, b.get(remove))
	if got := text(d, "h1"); got != "Remove the passkey Laptop?" {
		t.Fatalf("confirm page: got %q", got)
	}
	wantRedirect(t, b.postForm(remove, url.Values{}), "/account/passkeys")
	if msg := m.next(); !strings.Contains(msg.Subject, "second factor was removed") {
		t.Fatalf("got %q, want the removal notice", msg.Subject)
	}
	d = doc(t, b.get("/account/passkeys"))
	if d.Find("#no-passkeys").Length() != 1 {
		t.Fatal("after removal: want no passkeys")
	}
	// Gone: its pages are 404, as are another's and a malformed id.
	for _, p := range []string{remove, "/account/passkeys/AAAA/remove", "/account/passkeys/%25%25/remove"} {
		wantStatus(t, b.get(p), http.StatusNotFound)
	}
	if !strings.Contains(a.logs.String(), "event=passkey_added") || !strings.Contains(a.logs.String(), "event=passkey_removed") {
		t.Error("want audit lines passkey_added and passkey_removed")
	}
}

// TestPasskeyOthersCannotRemove: a passkey's id in another user's hands
// is not found.
func TestPasskeyOthersCannotRemove(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	ada, bob := newBrowser(t, a.URL), newBrowser(t, a.URL)
	wantRedirect(t, ada.signup("ada", "correct horse battery"), "/dashboard")
	wantRedirect(t, bob.signup("bob", "correct horse battery"), "/dashboard")
	addPasskey(t, a, ada, "Laptop")
	remove, _ := doc(t, ada.get("/account/passkeys")).Find(`#passkeys a.danger`).Attr("href")
	wantStatus(t, bob.get(remove), http.StatusNotFound)
	wantStatus(t, bob.postForm(remove, url.Values{}), http.StatusNotFound)
	if doc(t, ada.get("/account/passkeys")).Find("#passkeys tbody tr").Length() != 1 {
		t.Fatal("ada's passkey went")
	}
}

// TestPasskeyBadInput: every malformed request is a 4xx in JSON, never
// a 500.
func TestPasskeyBadInput(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("ada", "correct horse battery"), "/dashboard")

	_, live := begin(t, b, "/webauthn/register/begin", "{}")
	for _, tt := range []struct {
		name, path, contentType, body string
		want                          int
	}{
		{"not JSON", "/webauthn/register/finish", "text/plain", "x", http.StatusUnsupportedMediaType},
		{"broken JSON", "/webauthn/register/finish", "application/json", `{"challenge":`, http.StatusBadRequest},
		{"an array", "/webauthn/register/finish", "application/json", `[]`, http.StatusBadRequest},
		{"unknown field", "/webauthn/register/finish", "application/json", `{"challenge":"x","credential":{},"evil":1}`, http.StatusBadRequest},
		{"no challenge", "/webauthn/register/finish", "application/json", `{"credential":{}}`, http.StatusBadRequest},
		{"credential not an object", "/webauthn/register/finish", "application/json", `{"challenge":"x","credential":"abc"}`, http.StatusBadRequest},
		{"unknown challenge", "/webauthn/register/finish", "application/json", `{"challenge":"nope","name":"x","credential":{}}`, http.StatusBadRequest},
		{"huge challenge", "/webauthn/register/finish", "application/json", `{"challenge":"` + strings.Repeat("a", 5000) + `","credential":{}}`, http.StatusBadRequest},
		{"no name", "/webauthn/register/finish", "application/json", `{"challenge":"` + live + `","credential":{}}`, http.StatusBadRequest},
		{"garbage credential", "/webauthn/register/finish", "application/json", `{"challenge":"` + live + `","name":"x","credential":{"id":5}}`, http.StatusUnauthorized},
		{"used challenge", "/webauthn/register/finish", "application/json", `{"challenge":"` + live + `","name":"x","credential":{}}`, http.StatusBadRequest},
		{"begin with junk", "/webauthn/register/begin", "application/json", `{"x":1}`, http.StatusBadRequest},
		{"too large", "/webauthn/register/finish", "application/json", `{"challenge":"x","credential":{"a":"` + strings.Repeat("a", 70<<10) + `"}}`, http.StatusRequestEntityTooLarge},
	} {
		req, _ := http.NewRequest(http.MethodPost, a.URL+tt.path, strings.NewReader(tt.body))
		req.Header.Set("Content-Type", tt.contentType)
		r := b.do(req)
		if r.StatusCode != tt.want {
			t.Errorf("%s: got %d, want %d; body %.200s", tt.name, r.StatusCode, tt.want, r.body)
			continue
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: got Content-Type %q, want JSON", tt.name, ct)
		}
	}
	// Signed out: 401 in JSON, and the page leads to sign-in.
	anon := newBrowser(t, a.URL)
	r := anon.postJSON("/webauthn/register/begin", "{}")
	wantStatus(t, r, http.StatusUnauthorized)
	jsonBody(t, r)
	if r := anon.get("/account/passkeys"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("anonymous passkeys page: got %d to %q, want a redirect to /login", r.StatusCode, r.Header.Get("Location"))
	}
}

// assertWith answers a begin endpoint with auth, and returns the finish
// body.
func assertWith(t *testing.T, b *browser, auth *passkeytest.Authenticator, prefix string, extra map[string]any) string {
	t.Helper()
	opts, ch := begin(t, b, prefix+"/begin", "")
	cred, err := auth.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	return finishBody(t, ch, cred, extra)
}

func TestPasskeySignIn(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	ada := newBrowser(t, a.URL)
	wantRedirect(t, ada.signup("ada", "correct horse battery"), "/dashboard")
	auth := addPasskey(t, a, ada, "Laptop")

	// A new browser, no username: the passkey says who.
	b := newBrowser(t, a.URL)
	body := assertWith(t, b, auth, "/webauthn/login", map[string]any{"next": "/account/sessions"})
	r := b.postJSON("/webauthn/login/finish", body)
	wantStatus(t, r, http.StatusOK)
	if got := jsonBody(t, r)["redirect"]; got != "/account/sessions" {
		t.Errorf("redirect: got %v, want /account/sessions", got)
	}
	amr, aal := amrOf(t, b)
	if strings.Join(amr, " ") != "webauthn" || aal != "aal2" {
		t.Errorf("amr %v, aal %q: want [webauthn] and aal2 (a verified passkey)", amr, aal)
	}
	// The passkey page says when it was last used.
	if got := text(doc(t, b.get("/account/passkeys")), "#passkeys td[data-label='Last used']"); got == "Never" || got == "" {
		t.Errorf("last used: got %q, want a time", got)
	}

	// The same answer again: its challenge is gone.
	anon := newBrowser(t, a.URL)
	r = anon.postJSON("/webauthn/login/finish", body)
	wantStatus(t, r, http.StatusBadRequest)
	if got := jsonBody(t, r)["code"]; got != "challenge_invalid" {
		t.Errorf("replay: got code %v, want challenge_invalid", got)
	}
	wantStatus(t, anon.get("/api/dashboard"), http.StatusUnauthorized) // the replay signed no one in

	// A counter that went backwards: a copied key. Refused and audited.
	auth.Counter = 0
	r = anon.postJSON("/webauthn/login/finish", assertWith(t, anon, auth, "/webauthn/login", nil))
	wantStatus(t, r, http.StatusUnauthorized)
	if !strings.Contains(a.logs.String(), "event=passkey_cloned") {
		t.Error("want a passkey_cloned audit line")
	}
	if r := anon.get("/api/dashboard"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("after a refused passkey: /api/dashboard got %d, want 401", r.StatusCode)
	}
}

func TestPasskeyAsSecondFactor(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	ada := newBrowser(t, a.URL)
	wantRedirect(t, ada.signup("ada", "correct horse battery"), "/dashboard")
	auth := addPasskey(t, a, ada, "Laptop")

	b := newBrowser(t, a.URL)
	r := b.login("ada", "correct horse battery")
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login/2fa") {
		t.Fatalf("password of a user with a passkey: got %d to %q, want /login/2fa", r.StatusCode, r.Header.Get("Location"))
	}
	d := doc(t, b.get("/login/2fa"))
	if d.Find(`button[data-passkey=second-factor][hidden]`).Length() != 1 {
		t.Fatal("/login/2fa: want the hidden passkey button")
	}
	// Nothing is open yet.
	wantStatus(t, b.get("/api/dashboard"), http.StatusUnauthorized)

	// Someone else's passkey does not do: not one of ada's.
	eve := newBrowser(t, a.URL)
	wantRedirect(t, eve.signup("eve", "correct horse battery"), "/dashboard")
	eveKey := addPasskey(t, a, eve, "Eve's")
	opts, ch := begin(t, b, "/webauthn/2fa/begin", "")
	eveKey.UserHandle = auth.UserHandle // even claiming ada's handle
	cred, err := eveKey.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, b.postJSON("/webauthn/2fa/finish", finishBody(t, ch, cred, nil)), http.StatusUnauthorized)
	wantStatus(t, b.get("/api/dashboard"), http.StatusUnauthorized)

	r = b.postJSON("/webauthn/2fa/finish", assertWith(t, b, auth, "/webauthn/2fa", nil))
	wantStatus(t, r, http.StatusOK)
	if got := jsonBody(t, r)["redirect"]; got != "/dashboard" {
		t.Errorf("redirect: got %v, want /dashboard", got)
	}
	amr, aal := amrOf(t, b)
	if strings.Join(amr, " ") != "pwd webauthn" || aal != "aal2" {
		t.Errorf("amr %v, aal %q: want [pwd webauthn], aal2", amr, aal)
	}
	// Without a pending sign-in, the endpoints refuse.
	anon := newBrowser(t, a.URL)
	wantStatus(t, anon.postJSON("/webauthn/2fa/begin", ""), http.StatusUnauthorized)
}

func TestPasskeyReauthentication(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("ada", "correct horse battery"), "/dashboard")
	auth := addPasskey(t, a, b, "Laptop")
	other := newBrowser(t, a.URL)
	wantStatus(t, other.postJSON("/auth/login", `{"username":"ada","password":"correct horse battery"}`), http.StatusOK)

	// A begun ceremony outlives its 5 minutes only as a refusal.
	opts, ch := begin(t, b, "/webauthn/reauth/begin", "")
	clock.advance(11 * time.Minute) // past the challenge and the reauthentication window
	cred, err := auth.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	r := b.postJSON("/webauthn/reauth/finish", finishBody(t, ch, cred, nil))
	wantStatus(t, r, http.StatusBadRequest)
	if got := jsonBody(t, r)["code"]; got != "challenge_invalid" {
		t.Errorf("expired challenge: got code %v, want challenge_invalid", got)
	}

	// Not recent: adding a passkey is refused, and the confirm page
	// offers a passkey.
	r = b.postJSON("/webauthn/register/begin", "")
	wantStatus(t, r, http.StatusForbidden)
	d := doc(t, b.get("/account/sessions/revoke-others"))
	if d.Find(`#password`).Length() != 1 || d.Find(`button[data-passkey=reauth][hidden]`).Length() != 1 {
		t.Fatal("confirm page: want the password field and the hidden passkey button")
	}
	wantStatus(t, b.postJSON("/webauthn/reauth/finish", assertWith(t, b, auth, "/webauthn/reauth", nil)), http.StatusOK)
	// The form, posted without a password, now goes through.
	wantRedirect(t, b.postForm("/account/sessions/revoke-others", url.Values{"password": {""}}), "/account/sessions")
	wantStatus(t, other.get("/api/dashboard"), http.StatusUnauthorized)
	amr, _ := amrOf(t, b)
	if !slices.Contains(amr, "webauthn") {
		t.Errorf("amr after a passkey step-up: got %v, want webauthn among them", amr)
	}
}

// TestPasskeyFailuresThrottled: failed passkey sign-ins count per IP.
func TestPasskeyFailuresThrottled(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{maxPerIP: 3, maxPerAccount: 3})
	b := newBrowser(t, a.URL)
	var last int
	for range 6 {
		_, ch := begin(t, b, "/webauthn/login/begin", "")
		r := b.postJSON("/webauthn/login/finish", `{"challenge":"`+ch+`","credential":{"id":"AAAA","type":"public-key"}}`)
		last = r.StatusCode
		if last != http.StatusUnauthorized && last != http.StatusTooManyRequests {
			t.Fatalf("garbage answer: got %d, want 401 or 429", last)
		}
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("after 6 failures from one IP: got %d, want 429", last)
	}
	if !strings.Contains(a.logs.String(), "event=passkey_failure") {
		t.Error("want passkey_failure audit lines")
	}
}

// TestPasskeyBeginsBounded: anyone may begin a sign-in, and each keeps a
// challenge in Redis, so one IP's begins are counted and bounded.
func TestPasskeyBeginsBounded(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	var r response
	ok := 0
	for range 200 {
		if r = b.postJSON("/webauthn/login/begin", `{"conditional":true}`); r.StatusCode != http.StatusOK {
			break
		}
		ok++
	}
	wantStatus(t, r, http.StatusTooManyRequests)
	if ok != 120 {
		t.Errorf("begun before the 429: got %d, want 120", ok)
	}
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

// TestPasskeyMarkup: without script, the pages work and show no passkey
// button; the script unhides them (cmd/gatehouse's Chromium test).
func TestPasskeyMarkup(t *testing.T) {
	t.Parallel()
	clock := newClock()
	a := newApp(t, newBackends(t), options{now: clock.now})
	b := newBrowser(t, a.URL)
	d := doc(t, b.get("/login"))
	if d.Find(`button#passkey-login[data-passkey=login][type=button][hidden]`).Length() != 1 {
		t.Error("/login: want the hidden passkey button")
	}
	if got, _ := d.Find("#username").Attr("autocomplete"); got != "username webauthn" {
		t.Errorf("/login: username autocomplete %q, want \"username webauthn\"", got)
	}
	if !onlyStaticScripts(d) || d.Find(`script[src="/static/js/passkey.js"][defer]`).Length() != 1 {
		t.Error("/login: want exactly the app's deferred script file")
	}
	r := b.get("/static/js/passkey.js")
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("passkey.js: Content-Type %q, want text/javascript", ct)
	}

	// Not recently authenticated: the page links to the confirmation
	// page instead of showing the add form; the password there leads
	// back to the form.
	wantRedirect(t, b.signup("ada", "correct horse battery"), "/dashboard")
	clock.advance(11 * time.Minute)
	d = doc(t, b.get("/account/passkeys"))
	if d.Find("#add-form").Length() != 0 || d.Find(`a#add-passkey-confirm[href="/account/passkeys/add"]`).Length() != 1 {
		t.Fatal("not recent: want the confirm link and no add form")
	}
	d = doc(t, b.get("/account/passkeys/add"))
	if d.Find("#password").Length() != 1 {
		t.Fatal("/account/passkeys/add: want the password field")
	}
	r = b.postForm("/account/passkeys/add", url.Values{"password": {"wrong horse battery"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if fieldError(doc(t, r), "password") == "" {
		t.Error("wrong password: want an error on the field")
	}
	wantRedirect(t, b.postForm("/account/passkeys/add", url.Values{"password": {"correct horse battery"}}), "/account/passkeys#add")
	if doc(t, b.get("/account/passkeys")).Find("#add-form").Length() != 1 {
		t.Fatal("after confirming: want the add form")
	}
}

// TestRequire2FAPasskey: a role in REQUIRE_2FA_ROLES may meet the rule
// with a passkey: adding one counts as using it, which raises the session
// to aal2 and lifts the rule.
func TestRequire2FAPasskey(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{require2FA: []string{"user"}})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("keyholder", "password-1"), "/dashboard")
	wantRedirect(t, b.get("/dashboard"), "/account/2fa")
	wantStatus(t, b.get("/account/passkeys"), http.StatusOK)
	addPasskey(t, a, b, "Laptop")
	wantStatus(t, b.get("/dashboard"), http.StatusOK)
	if amr, aal := amrOf(t, b); !slices.Contains(amr, "webauthn") || aal != "aal2" {
		t.Fatalf("got amr %v %s, want webauthn and aal2", amr, aal)
	}
}
