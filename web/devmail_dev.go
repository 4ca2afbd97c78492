//go:build dev

package web

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"

	"github.com/go-chi/chi/v5"
)

// /dev/mail: the mail that the development SMTP server (make run with an
// empty SMTP_URL) received, newest first, and each message with its
// plain-text part, whose links can be followed. Compiled only with the dev
// tag, like the embedded servers.

func init() { pageNames = append(pageNames, "dev_mail") }

// devMailView is the page's data: the list, or one message.
type devMailView struct {
	Messages []DevMessage
	Message  *DevMessage
	// Text is the message's text part in pieces, links apart.
	Text []textPiece
}

// textPiece is plain text, or a link when URL is set.
type textPiece struct{ Text, URL string }

var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// pieces splits text into plain runs and links.
func pieces(text string) []textPiece {
	var out []textPiece
	last := 0
	for _, m := range linkPattern.FindAllStringIndex(text, -1) {
		out = append(out, textPiece{Text: text[last:m[0]]}, textPiece{URL: text[m[0]:m[1]]})
		last = m[1]
	}
	return append(out, textPiece{Text: text[last:]})
}

func devMailRoutes(mux chi.Router, rd *renderer, box DevMailbox) {
	mux.Method(http.MethodGet, "/dev/mail", rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		msgs := box.DevMessages()
		slices.Reverse(msgs)
		rd.render(w, r, http.StatusOK, "dev_mail", view{User: currentUser(r), DevMail: &devMailView{Messages: msgs}})
		return nil
	}))
	mux.Method(http.MethodGet, "/dev/mail/{id}", rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := strconv.Atoi(chi.URLParam(r, "id"))
		if err != nil {
			return errNotFound
		}
		for _, m := range box.DevMessages() {
			if m.ID == id {
				rd.render(w, r, http.StatusOK, "dev_mail", view{User: currentUser(r), DevMail: &devMailView{Message: &m, Text: pieces(m.Text)}})
				return nil
			}
		}
		return errNotFound
	}))
}
