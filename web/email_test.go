package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/embedded"
	"github.com/gatehouse/gatehouse/internal/mail"
)

// The e-mail flows end to end: the real router, a real redis-server and
// FerretDB, the mail worker and a real SMTP server in the test (go-smtp).
// Mails are read as a person's mail program would: MIME decoded
// (quoted-printable undone) before a link is taken from them.

// mailbox reads the mail a test's app sent.
type mailbox struct {
	t    *testing.T
	a    *app
	seen int
}

func newMailbox(t *testing.T, a *app) *mailbox { return &mailbox{t: t, a: a} }

// next waits for the next message and returns it.
func (m *mailbox) next() embedded.Received {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(m.t.Context(), 10*time.Second)
	defer cancel()
	msgs, err := m.a.smtp.Wait(ctx, m.seen+1)
	if err != nil {
		m.t.Fatalf("mail: %v", err)
	}
	m.seen++
	msg := msgs[m.seen-1]
	if msg.ParseErr != nil {
		m.t.Fatalf("mail %q: %v", msg.Subject, msg.ParseErr)
	}
	return msg
}

// none checks that no mail came beyond those seen, once the queue is
// empty: every job queued so far has been handled.
func (m *mailbox) none() {
	m.t.Helper()
	waitQueueEmpty(m.t, m.a.queue)
	if n := len(m.a.smtp.Messages()); n != m.seen {
		m.t.Fatalf("got %d mails, want %d; the last: %q", n, m.seen, m.a.smtp.Messages()[n-1].Subject)
	}
}

func waitQueueEmpty(t *testing.T, q *mail.Queue) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := q.Stats(context.Background())
		if err == nil && s.Stream == 0 && s.Retry == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("mail queue not empty after 10 s: %v, %v", s, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+`)

// link returns the message's link to path, from its decoded text part,
// as a path with query for the test's browser.
func link(t *testing.T, m embedded.Received, path string) string {
	t.Helper()
	for _, l := range linkRE.FindAllString(m.Text, -1) {
		u, err := url.Parse(l)
		if err == nil && u.Path == path {
			if !strings.Contains(m.HTML, `href="`+strings.ReplaceAll(l, "&", "&amp;")+`"`) {
				t.Errorf("the HTML part lacks the link %s", l)
			}
			return u.RequestURI()
		}
	}
	t.Fatalf("mail %q has no link to %s:\n%s", m.Subject, path, m.Text)
	return ""
}

func tokenOf(t *testing.T, pathAndQuery string) string {
	t.Helper()
	u, _ := url.Parse(pathAndQuery)
	return u.Query().Get("token")
}

// signupWithEmail signs up through the form with an address, and uses the
// verification link it mails.
func signupWithEmail(t *testing.T, a *app, m *mailbox, b *browser, name, pw, addr string) {
	t.Helper()
	r := b.postForm("/signup", url.Values{"username": {name}, "password": {pw}, "password_confirm": {pw}, "email": {addr}})
	wantRedirect(t, r, "/dashboard")
	msg := m.next()
	if len(msg.To) != 1 || !strings.EqualFold(msg.To[0], addr) {
		t.Fatalf("verification mail to %v, want %s", msg.To, addr)
	}
	verify := link(t, msg, "/email/verify")
	// The link's page shows a button; following the link uses nothing.
	for range 2 {
		d := doc(t, b.get(verify))
		if got := text(d, "#address"); !strings.EqualFold(got, addr) {
			t.Fatalf("verify page: got address %q, want %s", got, addr)
		}
	}
	r = b.postForm("/email/verify", url.Values{"token": {tokenOf(t, verify)}})
	wantStatus(t, r, http.StatusOK)
	if got := text(doc(t, r), "#done"); !strings.Contains(got, "is now the email address") {
		t.Fatalf("after verifying: %q", got)
	}
	// Single use.
	wantStatus(t, b.postForm("/email/verify", url.Values{"token": {tokenOf(t, verify)}}), http.StatusBadRequest)
}

func forgot(t *testing.T, b *browser, login string) response {
	t.Helper()
	return b.postForm("/password/forgot", url.Values{"login": {login}})
}

func TestForgotPasswordFlow(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{mail: true})
	m := newMailbox(t, a)
	owner := newBrowser(t, a.URL)
	signupWithEmail(t, a, m, owner, "pat", "correct horse 1", "Pat@Example.com")
	// Another session of pat's, which the reset must end.
	other := newBrowser(t, a.URL)
	wantRedirect(t, other.login("pat", "correct horse 1"), "/dashboard")
	m.next() // the other browser is a new device: a notice

	stranger := newBrowser(t, a.URL)
	r := forgot(t, stranger, "PAT@example.COM")
	wantStatus(t, r, http.StatusOK)
	if got := text(doc(t, r), "#sent"); got != "If an account matches, we sent a link to its confirmed email address." {
		t.Fatalf("got %q", got)
	}
	msg := m.next()
	// Sent to the stored address, not to what was typed.
	if len(msg.To) != 1 || msg.To[0] != "Pat@example.com" {
		t.Fatalf("reset mail to %v, want the stored Pat@example.com", msg.To)
	}
	reset := link(t, msg, "/password/reset")
	tok := tokenOf(t, reset)
	d := doc(t, stranger.get(reset))
	if d.Find(`input[name=token]`).AttrOr("value", "") != tok {
		t.Fatal("the reset form does not carry the token")
	}
	// A broken rule keeps the link usable.
	r = stranger.postForm("/password/reset", url.Values{"token": {tok}, "new_password": {"short"}, "new_password_confirm": {"short"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if got := fieldError(doc(t, r), "new_password"); got != "Enter a password of at least 8 characters" {
		t.Fatalf("got %q", got)
	}
	r = stranger.postForm("/password/reset", url.Values{"token": {tok}, "new_password": {"pat is pat 123"}, "new_password_confirm": {"pat is pat 123"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	r = stranger.postForm("/password/reset", url.Values{"token": {tok}, "new_password": {"battery staple 9"}, "new_password_confirm": {"battery staple 9"}})
	wantRedirect(t, r, "/dashboard")
	if setCookie(r, "gatehouse_session") == nil {
		t.Fatal("the reset did not sign in with a new token")
	}
	d = doc(t, stranger.get("/dashboard"))
	if got := text(d, "dd#username"); got != "pat" {
		t.Fatalf("signed in as %q after the reset", got)
	}
	// Every earlier session ended.
	wantRedirect(t, owner.get("/dashboard"), "/login?why=security")
	wantRedirect(t, other.get("/dashboard"), "/login?why=security")
	// Single use.
	r = stranger.postForm("/password/reset", url.Values{"token": {tok}, "new_password": {"battery staple 10"}, "new_password_confirm": {"battery staple 10"}})
	wantStatus(t, r, http.StatusBadRequest)
	if doc(t, r).Find("#link-invalid").Length() != 1 {
		t.Fatal("a used link does not say so")
	}
	// "Your password was changed".
	if msg := m.next(); !strings.Contains(msg.Subject, "password was changed") {
		t.Fatalf("got %q, want the password-changed notice", msg.Subject)
	}
	wantRedirect(t, newBrowser(t, a.URL).login("pat", "battery staple 9"), "/dashboard")
}

// TestForgotPasswordSameAnswer: an account with a verified address, one
// without, an unknown name and an unknown address get the same page, byte
// for byte once what was typed is taken out, and the same status; the API
// the same 202. Only the first gets mail.
func TestForgotPasswordSameAnswer(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{mail: true})
	m := newMailbox(t, a)
	signupWithEmail(t, a, m, newBrowser(t, a.URL), "kim", "correct horse 1", "kim@example.com")
	wantRedirect(t, newBrowser(t, a.URL).signup("lee", "correct horse 1"), "/dashboard")
	// An address that is waiting for verification gets no link either.
	unverified := newBrowser(t, a.URL)
	r := unverified.postForm("/signup", url.Values{"username": {"max"}, "password": {"correct horse 1"}, "password_confirm": {"correct horse 1"}, "email": {"max@example.com"}})
	wantRedirect(t, r, "/dashboard")
	m.next() // its verification link, not used

	b := newBrowser(t, a.URL)
	var first response
	for i, login := range []string{"kim", "lee", "nobody", "nobody@example.com", "kim@example.com", "max@example.com", "max"} {
		r := forgot(t, b, login)
		body := strings.ReplaceAll(r.body, login, "")
		if i == 0 {
			first = r
			first.body = body
			continue
		}
		if r.StatusCode != first.StatusCode || body != first.body {
			t.Errorf("%s: got %d and a body that differs from kim's (%d)", login, r.StatusCode, first.StatusCode)
		}
	}
	for _, login := range []string{"kim", "nobody"} {
		r := b.postJSON("/api/password/forgot", `{"login":"`+login+`"}`)
		wantStatus(t, r, http.StatusAccepted)
		if got := jsonBody(t, r)["message"]; got != "If an account matches, we sent a link" {
			t.Errorf("%s: got %v", login, got)
		}
	}
	// kim's three requests (name, address, API) sent three links; no one
	// else got any.
	for range 3 {
		if msg := m.next(); msg.To[0] != "kim@example.com" {
			t.Fatalf("a reset link went to %v", msg.To)
		}
	}
	m.none()
}

// TestResetTokenRules: a reset link expires, is replaced by a newer one,
// and is made stale by a password change, by disabling the account and by
// a change of its address; and it is kept in Redis only as a hash.
func TestResetTokenRules(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{mail: true, resetTTL: 300 * time.Millisecond})
	m := newMailbox(t, a)
	owner := newBrowser(t, a.URL)
	signupWithEmail(t, a, m, owner, "ash", "correct horse 1", "ash@example.com")
	b := newBrowser(t, a.URL)
	requestLink := func() string {
		t.Helper()
		wantStatus(t, forgot(t, b, "ash"), http.StatusOK)
		return link(t, m.next(), "/password/reset")
	}
	valid := func(l string) bool {
		t.Helper()
		r := b.get(l)
		return r.StatusCode == http.StatusOK
	}

	// Expiry.
	l := requestLink()
	if !valid(l) {
		t.Fatal("a fresh link is refused")
	}
	deadline := time.Now().Add(5 * time.Second)
	for valid(l) {
		if time.Now().After(deadline) {
			t.Fatal("the link still works 5 s after its 300 ms lifetime")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestResetTokenInvalidation(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{mail: true})
	m := newMailbox(t, a)
	owner := newBrowser(t, a.URL)
	signupWithEmail(t, a, m, owner, "ash", "correct horse 1", "ash@example.com")
	b := newBrowser(t, a.URL)
	requestLink := func() string {
		t.Helper()
		wantStatus(t, forgot(t, b, "ash"), http.StatusOK)
		return link(t, m.next(), "/password/reset")
	}
	wantInvalid := func(what, l string) {
		t.Helper()
		if r := b.get(l); r.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: the link still works (GET %d)", what, r.StatusCode)
		}
		r := b.postForm("/password/reset", url.Values{"token": {tokenOf(t, l)}, "new_password": {"another horse 7"}, "new_password_confirm": {"another horse 7"}})
		if r.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: the link still works (POST %d)", what, r.StatusCode)
		}
	}

	// A newer request replaces the older link.
	older := requestLink()
	newer := requestLink()
	wantInvalid("after a newer request", older)

	// Hashed at rest: no key or value in Redis, the mail queue included,
	// holds the token.
	scanForSecret(t, a.pool, tokenOf(t, newer))

	// A password change, here by the signed-in owner.
	r := owner.postForm("/account/password", url.Values{"new_password": {"new horse 22"}, "new_password_confirm": {"new horse 22"}})
	wantRedirect(t, r, "/account/sessions")
	wantInvalid("after a password change", newer)
	m.next() // the password-changed notice

	// Disabling the account.
	l := requestLink()
	u, err := a.users.ByUsername(t.Context(), "ash")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.users.SetDisabled(t.Context(), u.ID, true); err != nil {
		t.Fatal(err)
	}
	wantInvalid("after disabling", l)
	if _, err := a.users.SetDisabled(t.Context(), u.ID, false); err != nil {
		t.Fatal(err)
	}

	// A change of the address: the old one stays the recovery address
	// until the new one is verified; then a link sent to the old one is
	// stale.
	owner = newBrowser(t, a.URL)
	wantRedirect(t, owner.login("ash", "new horse 22"), "/dashboard")
	m.next() // new device
	l = requestLink()
	r = owner.postForm("/account/email", url.Values{"email": {"ash@new.example"}})
	wantRedirect(t, r, "/account/email")
	verify := m.next()
	if verify.To[0] != "ash@new.example" {
		t.Fatalf("verification to %v", verify.To)
	}
	if notice := m.next(); notice.To[0] != "ash@example.com" || !strings.Contains(notice.Subject, "being changed") {
		t.Fatalf("got %q to %v, want the notice to the old address", notice.Subject, notice.To)
	}
	if r := b.get(l); r.StatusCode != http.StatusOK {
		t.Fatalf("before the new address is verified, the link sent to the old one should work: %d", r.StatusCode)
	}
	wantStatus(t, owner.postForm("/email/verify", url.Values{"token": {tokenOf(t, link(t, verify, "/email/verify"))}}), http.StatusOK)
	wantInvalid("after the address changed", l)
	// The next link goes to the new address.
	requestLink()
	if got := a.smtp.Messages()[m.seen-1].To[0]; got != "ash@new.example" {
		t.Fatalf("a reset link after the change went to %s", got)
	}
}

// scanForSecret fails the test if any key or value in Redis, of any type,
// holds secret. It reads every key with SCAN.
func scanForSecret(t *testing.T, pool *redigo.Pool, secret string) {
	t.Helper()
	c := pool.Get()
	defer c.Close()
	cursor, keys := "0", 0
	for {
		res, err := redigo.Values(c.Do("SCAN", cursor, "COUNT", 500))
		if err != nil {
			t.Fatal(err)
		}
		cursor, _ = redigo.String(res[0], nil)
		list, _ := redigo.Strings(res[1], nil)
		for _, k := range list {
			keys++
			typ, _ := redigo.String(c.Do("TYPE", k))
			var v any
			switch typ {
			case "string":
				v, err = c.Do("GET", k)
			case "hash":
				v, err = c.Do("HGETALL", k)
			case "zset":
				v, err = c.Do("ZRANGE", k, 0, -1, "WITHSCORES")
			case "set":
				v, err = c.Do("SMEMBERS", k)
			case "list":
				v, err = c.Do("LRANGE", k, 0, -1)
			case "stream":
				v, err = c.Do("XRANGE", k, "-", "+")
			}
			if err != nil {
				t.Fatalf("read %s (%s): %v", k, typ, err)
			}
			if strings.Contains(k, secret) || strings.Contains(flatten(v), secret) {
				t.Errorf("Redis key %s (%s) holds the raw token", k, typ)
			}
		}
		if cursor == "0" {
			break
		}
	}
	if keys == 0 {
		t.Fatal("SCAN found no key")
	}
}

func flatten(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case []any:
		var b strings.Builder
		for _, e := range x {
			b.WriteString(flatten(e))
			b.WriteByte(' ')
		}
		return b.String()
	}
	return ""
}
