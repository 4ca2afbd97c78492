package account

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/templates"
)

// TestRenderEveryMail renders each kind with a view holding markup: the
// HTML part escapes it, the text part keeps it as typed, and both carry
// the link.
func TestRenderEveryMail(t *testing.T) {
	c, err := NewComposer(templates.FS, nil, nil, nil, func() string { return "https://login.example.com" }, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	v := View{Username: "<b>pat</b>", Link: "https://login.example.com/x?token=a.b&c=d", Expires: "30 minutes",
		Address: "p…@example.com", IP: "192.0.2.1", Device: "Firefox on Linux", At: "Mon, 2 Jan 2006 15:04 UTC",
		Change: "added", Method: "an authenticator app", ForgotURL: "https://login.example.com/password/forgot",
		SessionsURL: "https://login.example.com/account/sessions"}
	for _, kind := range mailKinds {
		m, err := c.Render(kind, v)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if m.Subject == "" || strings.Contains(m.Subject, "\n") {
			t.Errorf("%s: subject %q", kind, m.Subject)
		}
		if !strings.Contains(m.Text, "<b>pat</b>") || strings.Contains(m.HTML, "<b>pat</b>") || !strings.Contains(m.HTML, "&lt;b&gt;pat&lt;/b&gt;") {
			t.Errorf("%s: the name is not escaped in HTML only:\n%s\n%s", kind, m.Text, m.HTML)
		}
		switch kind {
		case KindVerifyEmail, KindPasswordReset, KindNewDevice:
			if !strings.Contains(m.Text, v.Link) || !strings.Contains(m.HTML, `href="https://login.example.com/x?token=a.b&amp;c=d"`) {
				t.Errorf("%s: the link is missing:\n%s\n%s", kind, m.Text, m.HTML)
			}
		default:
			if !strings.Contains(m.Text, v.ForgotURL) {
				t.Errorf("%s: no way to reset the password:\n%s", kind, m.Text)
			}
		}
	}
}

func TestWordsAndMask(t *testing.T) {
	for d, want := range map[time.Duration]string{30 * time.Minute: "30 minutes", time.Minute: "1 minute",
		24 * time.Hour: "24 hours", 7 * 24 * time.Hour: "7 days", 90 * time.Minute: "90 minutes"} {
		if got := words(d); got != want {
			t.Errorf("words(%v): got %q, want %q", d, got, want)
		}
	}
	if got := maskAddress("josé@example.com"); got != "j…@example.com" {
		t.Errorf("maskAddress: got %q", got)
	}
}
