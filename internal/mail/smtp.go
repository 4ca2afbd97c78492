package mail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one rendered e-mail: a plain-text part and an HTML part
// (multipart/alternative, RFC 2046), to one recipient.
type Message struct {
	To      string // an RFC 5322 addr-spec; UTF-8 is sent with SMTPUTF8 (RFC 6531) where the server offers it
	Subject string
	Text    string
	HTML    string
}

// Sender sends messages through one SMTP server (RFC 5321), one connection
// per message. It is safe for concurrent use.
type Sender struct {
	mu     sync.Mutex
	client *gomail.Client
	from   string
}

// TLS modes of an SMTP_URL.
const (
	starttlsRequired      = "required"
	starttlsOpportunistic = "opportunistic"
)

// ParseURL checks an SMTP_URL: smtp://[user:pass@]host[:port] (port 587
// by default, STARTTLS required) or smtps://[user:pass@]host[:port] (port
// 465, implicit TLS), with ?starttls=opportunistic to allow a development
// relay without TLS on smtp://. Its errors never quote the URL, which may
// hold a password.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return nil, errors.New("must look like smtp://user:pass@host:587 or smtps://user:pass@host:465")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, errors.New("has a port that is not a number from 1 to 65535")
		}
	}
	q := u.Query()
	for k := range q {
		if k != "starttls" {
			return nil, fmt.Errorf("has an unknown option %q (only starttls=required or starttls=opportunistic)", k)
		}
	}
	switch q.Get("starttls") {
	case "", starttlsRequired:
	case starttlsOpportunistic:
		if u.Scheme == "smtps" {
			return nil, errors.New("starttls applies to smtp:// only; smtps:// is always TLS")
		}
	default:
		return nil, errors.New("starttls must be required or opportunistic")
	}
	return u, nil
}

// NewSender returns a sender through the server at rawURL (ParseURL),
// with from (an RFC 5322 mailbox such as "Gatehouse <noreply@example.com>")
// as the sender. timeout bounds dialling and each command.
func NewSender(rawURL, from string, timeout time.Duration) (*Sender, error) {
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("SMTP_URL %w", err)
	}
	port := 587
	if u.Scheme == "smtps" {
		port = 465
	}
	if p := u.Port(); p != "" {
		port, _ = strconv.Atoi(p)
	}
	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTimeout(timeout)}
	switch {
	case u.Scheme == "smtps":
		opts = append(opts, gomail.WithSSL())
	case u.Query().Get("starttls") == starttlsOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pw))
	}
	c, err := gomail.NewClient(u.Hostname(), opts...)
	if err != nil {
		return nil, fmt.Errorf("SMTP client: %w", err)
	}
	// Check the sender's address now rather than at the first mail.
	if err := gomail.NewMsg().From(from); err != nil {
		return nil, fmt.Errorf("MAIL_FROM is not an address: %w", err)
	}
	return &Sender{client: c, from: from}, nil
}

// Send sends m within ctx. A recipient the server refuses for good is a
// Permanent error. Errors never include the recipient's address or the
// server's text about it, only the reason and codes.
func (s *Sender) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return Permanent(fmt.Errorf("MAIL_FROM: %w", err))
	}
	if err := msg.To(m.To); err != nil {
		return Permanent(errors.New("recipient is not a valid address"))
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	// RFC 3834: an automatic message, not to be answered automatically.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	s.mu.Lock()
	err := s.client.DialAndSendWithContext(ctx, msg)
	s.mu.Unlock()
	return describe(err)
}

// describe turns a go-mail error into one safe to log: the reason and
// codes of a SendError, without the recipient or the server's text.
func describe(err error) error {
	if err == nil {
		return nil
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		d := fmt.Errorf("smtp: %s (code %d %s, temporary %t)", se.Reason, se.ErrorCode(), se.EnhancedStatusCode(), se.IsTemp())
		if se.Reason == gomail.ErrSMTPRcptTo && !se.IsTemp() && se.ErrorCode() >= 500 {
			return Permanent(d)
		}
		return d
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("smtp: %w", ne)
	}
	return fmt.Errorf("smtp: %s", err.Error())
}
