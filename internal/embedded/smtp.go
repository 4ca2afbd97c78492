package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// SMTP is an SMTP server (github.com/emersion/go-smtp) on a loopback port
// that keeps every message it receives in memory: the development stand-in
// for a mail relay (make run's /dev/mail lists what it holds), and the real
// SMTP server the tests send to. It offers no TLS and no authentication.
type SMTP struct {
	// URL is the server's SMTP_URL: smtp://127.0.0.1:PORT?starttls=opportunistic.
	URL string
	// Addr is the server's host:port.
	Addr string

	srv *smtp.Server
	ln  net.Listener

	mu       sync.Mutex
	messages []Received
	changed  chan struct{} // closed and replaced at each message
	reject   error         // when set, DATA is refused with it
}

// Received is one message the server took, decoded.
type Received struct {
	ID       int       // 1, 2, ... in order of arrival
	At       time.Time // when it arrived
	From     string    // the envelope sender (MAIL FROM)
	To       []string  // the envelope recipients (RCPT TO)
	Raw      []byte    // the message as sent (RFC 5322)
	Subject  string    // decoded (RFC 2047)
	Header   mail.Header
	Text     string // the text/plain part, with its transfer encoding undone
	HTML     string // the text/html part, with its transfer encoding undone
	ParseErr error  // why the message could not be decoded, if it could not
}

// maxMessageBytes bounds one message the server accepts.
const maxMessageBytes = 1 << 20

// StartSMTP starts the server on 127.0.0.1 and port (0 picks a free one).
// Stop it with Stop; it also stops when ctx is cancelled.
func StartSMTP(ctx context.Context, port int, logger *slog.Logger) (*SMTP, error) {
	if err := checkPort(port); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, fmt.Errorf("smtp: listen: %w", err)
	}
	s := &SMTP{ln: ln, Addr: ln.Addr().String(), changed: make(chan struct{})}
	s.URL = "smtp://" + s.Addr + "?starttls=opportunistic"
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: s}, nil }))
	s.srv.Domain = "localhost"
	s.srv.MaxMessageBytes = maxMessageBytes
	s.srv.MaxRecipients = 50
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.EnableSMTPUTF8 = true
	if logger != nil {
		s.srv.ErrorLog = smtpLogger{logger}
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) && logger != nil {
			logger.Warn("embedded smtp: serve", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		_ = s.Stop()
	}()
	return s, nil
}

// Stop closes the server; messages already received stay readable.
func (s *SMTP) Stop() error {
	err := s.srv.Close()
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Messages returns every message received so far, oldest first.
func (s *SMTP) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.messages...)
}

// Message returns the message with id, if there is one.
func (s *SMTP) Message(id int) (Received, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || id > len(s.messages) {
		return Received{}, false
	}
	return s.messages[id-1], true
}

// Wait returns the messages once there are at least n, or an error when
// ctx ends first.
func (s *SMTP) Wait(ctx context.Context, n int) ([]Received, error) {
	for {
		s.mu.Lock()
		msgs, changed := append([]Received(nil), s.messages...), s.changed
		s.mu.Unlock()
		if len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-ctx.Done():
			return msgs, fmt.Errorf("smtp: %d of %d messages arrived: %w", len(msgs), n, ctx.Err())
		case <-changed:
		}
	}
}

// Reject makes the server refuse every message's DATA with a temporary
// failure (451) while on is true: a relay that is up but failing.
func (s *SMTP) Reject(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = nil
	if on {
		s.reject = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
}

func (s *SMTP) add(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.ID = len(s.messages) + 1
	s.messages = append(s.messages, r)
	close(s.changed)
	s.changed = make(chan struct{})
}

type smtpSession struct {
	s    *SMTP
	from string
	to   []string
}

func (ss *smtpSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *smtpSession) Logout() error { return nil }
func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}
func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}
func (ss *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(io.LimitReader(r, maxMessageBytes+1))
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	reject := ss.s.reject
	ss.s.mu.Unlock()
	if reject != nil {
		return reject
	}
	rec := ParseMessage(raw)
	rec.At, rec.From, rec.To = time.Now(), ss.from, append([]string(nil), ss.to...)
	ss.s.add(rec)
	return nil
}

// ParseMessage decodes an RFC 5322 message: its headers, its subject
// (RFC 2047), and its text/plain and text/html parts, with their
// quoted-printable or base64 transfer encoding undone (RFC 2045), so that
// links can be read from them.
func ParseMessage(raw []byte) Received {
	rec := Received{Raw: raw}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		rec.ParseErr = err
		return rec
	}
	rec.Header = m.Header
	dec := new(mime.WordDecoder)
	if subj, err := dec.DecodeHeader(m.Header.Get("Subject")); err == nil {
		rec.Subject = subj
	}
	rec.ParseErr = readPart(&rec, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
	return rec
}

// readPart reads one MIME entity into rec, recursing into multiparts.
// multipart.Reader undoes quoted-printable itself; base64 is undone here.
func readPart(rec *Received, contentType, encoding string, body io.Reader) error {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := readPart(rec, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	b, err := io.ReadAll(decodeTransfer(encoding, body))
	if err != nil {
		return err
	}
	switch mt {
	case "text/plain":
		rec.Text = string(b)
	case "text/html":
		rec.HTML = string(b)
	}
	return nil
}

type smtpLogger struct{ l *slog.Logger }

func (l smtpLogger) Printf(format string, v ...any) {
	l.l.Debug("embedded smtp: " + fmt.Sprintf(format, v...))
}
func (l smtpLogger) Println(v ...any) { l.l.Debug("embedded smtp: " + fmt.Sprint(v...)) }
