package account

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/gatehouse/gatehouse/internal/mail"
	"github.com/gatehouse/gatehouse/internal/token"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Sender sends one rendered mail (mail.Sender).
type Sender interface {
	Send(ctx context.Context, m mail.Message) error
}

// Composer is the mail worker's handler (mail.Handler): it turns a job
// into a mail, with the account as it is when the mail goes out.
type Composer struct {
	users    Users
	tokens   Tokens
	sender   Sender
	mails    map[string]*mailTemplate
	base     func() string // PUBLIC_URL, without a trailing slash
	resetTTL time.Duration
}

// mailTemplate is one kind's templates: subject and text through
// text/template, html through html/template, from one file.
type mailTemplate struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// mailKinds are the kinds with a template file templates/mail/KIND.tmpl,
// each defining "subject", "text" and "html" (with layout.tmpl's parts).
var mailKinds = []string{KindVerifyEmail, KindPasswordReset, KindNewDevice, KindEmailChanged,
	KindPasswordChanged, KindSessionsRevoked, KindSecondFactor}

// NewComposer parses the mail templates of fsys (templates.FS: mail/*.tmpl)
// and returns the composer. base returns the external base URL of links
// (PUBLIC_URL); resetTTL is PASSWORD_RESET_TTL.
func NewComposer(fsys fs.FS, users Users, tokens Tokens, sender Sender, base func() string, resetTTL time.Duration) (*Composer, error) {
	c := &Composer{users: users, tokens: tokens, sender: sender, base: base, resetTTL: resetTTL, mails: map[string]*mailTemplate{}}
	for _, kind := range mailKinds {
		files := []string{"mail/layout.tmpl", "mail/" + kind + ".tmpl"}
		tt, err := texttemplate.New(kind).ParseFS(fsys, files...)
		if err != nil {
			return nil, fmt.Errorf("parse mail %s: %w", kind, err)
		}
		ht, err := htmltemplate.New(kind).ParseFS(fsys, files...)
		if err != nil {
			return nil, fmt.Errorf("parse mail %s: %w", kind, err)
		}
		c.mails[kind] = &mailTemplate{text: tt, html: ht}
	}
	return c, nil
}

// View is what a mail template gets.
type View struct {
	Username string
	Link     string // the mail's action link ("" for a plain notice)
	Expires  string // how long the link works, in words: "30 minutes"
	Address  string // the address concerned (the new one of a change)
	IP       string
	Device   string
	At       string // when it happened, "Mon, 2 Jan 2006 15:04 UTC"
	Change   string // second factor: "added" or "removed"
	Method   string // second factor: "an authenticator app", ...
	// Links every notice offers.
	ForgotURL, SessionsURL string
}

// Handle composes and sends the mail of one job (mail.Handler). A job
// whose account is gone, or that needs no mail any more, is mail.ErrDrop.
func (c *Composer) Handle(ctx context.Context, j mail.Job) error {
	switch j.Kind {
	case KindVerifyEmail:
		return c.verify(ctx, j)
	case KindPasswordReset:
		return c.reset(ctx, j)
	case KindNewDevice, KindEmailChanged, KindPasswordChanged, KindSessionsRevoked, KindSecondFactor:
		return c.notice(ctx, j)
	}
	return fmt.Errorf("unknown mail kind %q: %w", j.Kind, mail.ErrDrop)
}

// load returns the job's account; an unknown one is mail.ErrDrop.
func (c *Composer) load(ctx context.Context, id string) (*user.User, error) {
	u, err := c.users.ByID(ctx, id)
	if errors.Is(err, user.ErrNotFound) {
		return nil, fmt.Errorf("account %s is gone: %w", id, mail.ErrDrop)
	}
	return u, err
}

// verify sends a verification link for the address the job names, if it
// still waits for verification. The token is bound to that address.
func (c *Composer) verify(ctx context.Context, j mail.Job) error {
	u, err := c.load(ctx, j.Data["user"])
	if err != nil {
		return err
	}
	a, err := user.NormalizeEmail(u.EmailPending)
	if err != nil || a.Norm != j.Data["addr"] {
		return fmt.Errorf("address changed since: %w", mail.ErrDrop)
	}
	tok, err := c.tokens.Issue(ctx, token.VerifyEmail, u.ID, encode(verifyClaims{Addr: a.Norm}), VerifyTTL)
	if err != nil {
		return err
	}
	v := c.view(u)
	v.Link, v.Expires, v.Address = c.link("/email/verify", tok), words(VerifyTTL), a.Address
	return c.send(ctx, KindVerifyEmail, a.Address, v)
}

// reset sends a reset link for the account that the typed login names,
// to its verified address (never to anything typed), when it has one and
// is enabled. Otherwise nothing is sent, and nobody is told.
func (c *Composer) reset(ctx context.Context, j mail.Job) error {
	u, err := c.users.ByLogin(ctx, j.Data["login"])
	if errors.Is(err, user.ErrNotFound) {
		return fmt.Errorf("no such account: %w", mail.ErrDrop)
	}
	if err != nil {
		return err
	}
	if u.Disabled || u.Email == "" {
		return fmt.Errorf("account %s is disabled or has no verified address: %w", u.ID, mail.ErrDrop)
	}
	// A newer request replaces the older link: one key per account.
	tok, err := c.tokens.Issue(ctx, token.PasswordReset, u.ID, encode(resetClaims{Stamp: u.SecurityStamp, Email: u.EmailNorm}), c.resetTTL)
	if err != nil {
		return err
	}
	v := c.view(u)
	v.Link, v.Expires = c.link("/password/reset", tok), words(c.resetTTL)
	return c.send(ctx, KindPasswordReset, u.Email, v)
}

// notice sends a security notice to the account's verified address (an
// e-mail change: to the old address the job names).
func (c *Composer) notice(ctx context.Context, j mail.Job) error {
	u, err := c.load(ctx, j.Data["user"])
	if err != nil {
		return err
	}
	to := u.Email
	if j.Kind == KindEmailChanged {
		to = j.Data["to"]
	}
	if to == "" {
		return fmt.Errorf("account %s has no verified address: %w", u.ID, mail.ErrDrop)
	}
	v := c.view(u)
	v.IP, v.Device, v.Change, v.Method = j.Data["ip"], j.Data["device"], j.Data["change"], j.Data["method"]
	v.Address = maskAddress(j.Data["new"])
	if t, err := time.Parse(time.RFC3339, j.Data["at"]); err == nil {
		v.At = t.UTC().Format("Mon, 2 Jan 2006 15:04 MST")
	}
	if j.Kind == KindNewDevice {
		sid := j.Data["sid"]
		tok, err := c.tokens.Issue(ctx, token.NotMe, sid, encode(notMeClaims{User: u.ID}), NotMeTTL)
		if err != nil {
			return err
		}
		v.Link, v.Expires = c.link("/account/not-me", tok), words(NotMeTTL)
	}
	return c.send(ctx, j.Kind, to, v)
}

func (c *Composer) view(u *user.User) View {
	return View{Username: u.Username, ForgotURL: c.base() + "/password/forgot", SessionsURL: c.base() + "/account/sessions"}
}

// link is base + path + ?token=.
func (c *Composer) link(path, tok string) string {
	return c.base() + path + "?token=" + url.QueryEscape(tok)
}

// send renders kind's mail with v and sends it to addr.
func (c *Composer) send(ctx context.Context, kind, addr string, v View) error {
	m, err := c.Render(kind, v)
	if err != nil {
		return mail.Permanent(err)
	}
	m.To = user.Mailbox(addr)
	return c.sender.Send(ctx, m)
}

// Render renders kind's subject, plain-text and HTML parts with v.
func (c *Composer) Render(kind string, v View) (mail.Message, error) {
	t, ok := c.mails[kind]
	if !ok {
		return mail.Message{}, fmt.Errorf("no mail template %q", kind)
	}
	var subj, text, html bytes.Buffer
	if err := t.text.ExecuteTemplate(&subj, "subject", v); err != nil {
		return mail.Message{}, fmt.Errorf("render mail %s: %w", kind, err)
	}
	if err := t.text.ExecuteTemplate(&text, "text", v); err != nil {
		return mail.Message{}, fmt.Errorf("render mail %s: %w", kind, err)
	}
	if err := t.html.ExecuteTemplate(&html, "html", v); err != nil {
		return mail.Message{}, fmt.Errorf("render mail %s: %w", kind, err)
	}
	return mail.Message{Subject: strings.TrimSpace(subj.String()), Text: text.String(), HTML: html.String()}, nil
}

// maskAddress shows an address's first character and its domain:
// "p…@example.com", so that a notice to an old mailbox does not hand the
// new address to whoever reads it now.
func maskAddress(a string) string {
	at := strings.LastIndexByte(a, '@')
	if at < 1 {
		return a
	}
	r := []rune(a[:at])
	return string(r[0]) + "…" + a[at:]
}

// words says d in words: "30 minutes", "24 hours", "7 days".
func words(d time.Duration) string {
	n, unit := int(d/time.Minute), "minute"
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		n, unit = int(d/(24*time.Hour)), "day"
	case d >= 2*time.Hour && d%time.Hour == 0:
		n, unit = int(d/time.Hour), "hour"
	}
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
