package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/templates"
)

func newTestRenderer(t *testing.T, logOut io.Writer) *renderer {
	t.Helper()
	rd, err := newRenderer(templates.FS, false, slog.New(slog.NewTextHandler(logOut, nil)), time.Now, session.Policy{}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

// TestPanicBecomesFriendly500: the visitor gets the 500 page, the log gets
// the stack, and the response carries no trace of either.
func TestPanicBecomesFriendly500(t *testing.T) {
	t.Parallel()
	var log strings.Builder
	rd := newTestRenderer(t, &log)
	h := recoverPanics(rd)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret internal detail")
	}))
	for _, path := range []string{"/dashboard", "/api/dashboard"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		body := rec.Body.String()
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("%s: got %d, want 500", path, rec.Code)
		}
		if strings.Contains(body, "secret internal detail") || strings.Contains(body, "goroutine") {
			t.Fatalf("%s: the response leaks the panic: %s", path, body)
		}
		wantType := "text/html"
		if strings.HasPrefix(path, "/api/") {
			wantType = "application/json"
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), wantType) || !strings.Contains(strings.ToLower(body), "something went wrong") {
			t.Fatalf("%s: got %q %s, want a friendly %s answer", path, rec.Header().Get("Content-Type"), body, wantType)
		}
	}
	if !strings.Contains(log.String(), "secret internal detail") || !strings.Contains(log.String(), "goroutine") {
		t.Fatalf("the panic and its stack were not logged: %s", log.String())
	}
}

// TestBrokenTemplateBecomes500: a template that fails mid-way yields a clean
// 500 page, not half a page with a 200 status.
func TestBrokenTemplateBecomes500(t *testing.T) {
	t.Parallel()
	rd := newTestRenderer(t, io.Discard)
	rec := httptest.NewRecorder()
	rd.render(rec, httptest.NewRequest("GET", "/", nil), http.StatusOK, "no-such-page", view{})
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "Something went wrong") {
		t.Fatalf("got %d %s", rec.Code, rec.Body.String())
	}
}

func TestValidToken(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{strings.Repeat("a", 43), true},
		{"Ab0-_" + strings.Repeat("x", 38), true},
		{strings.Repeat("a", 42), false},
		{strings.Repeat("a", 44), false},
		{strings.Repeat("a", 42) + "=", false},
		{strings.Repeat("a", 42) + "/", false},
		{"", false},
	} {
		if got := validToken(tt.in); got != tt.want {
			t.Errorf("validToken(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		30 * time.Minute: "30 minutes",
		time.Minute:      "1 minute",
		time.Hour:        "1 hour",
		24 * time.Hour:   "24 hours",
		90 * time.Second: "1m30s",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
