package web

import "time"

// DevMailbox is the development SMTP server's store of messages, which
// dev builds (make run) list on /dev/mail. Production builds do not serve
// the page (devmail_dev.go is compiled only with the dev tag).
type DevMailbox interface {
	// DevMessages returns every message received, oldest first.
	DevMessages() []DevMessage
}

// DevMessage is one message the development SMTP server received, with
// its parts decoded.
type DevMessage struct {
	ID      int
	At      time.Time
	From    string
	To      []string
	Subject string
	Text    string // the text/plain part, transfer encoding undone
	HTML    string // the text/html part, as source
}
