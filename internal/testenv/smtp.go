package testenv

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/embedded"
)

// SMTP starts a real SMTP server (github.com/emersion/go-smtp) in the
// test's process on 127.0.0.1 and port (0: a free one), keeping what it
// receives in memory, and stops it when the test ends. Its URL is an
// SMTP_URL (no TLS: starttls=opportunistic).
func SMTP(t testing.TB, port int) *embedded.SMTP {
	t.Helper()
	s, err := embedded.StartSMTP(t.Context(), port, logger(t))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}
