package pwned_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/pwned"
)

// sha1Hex is the upper-case hex SHA-1 of s, as the range API spells it.
func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// rangeServer is a fake Pwned Passwords range API. It knows the passwords
// in breached (with their counts) and pads every answer with decoys, some
// of them with count 0 as the real API's Add-Padding does. It records
// every request it gets.
type rangeServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
}

func newRangeServer(t *testing.T, breached map[string]int) *rangeServer {
	t.Helper()
	s := &rangeServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.requests = append(s.requests, r)
		s.bodies = append(s.bodies, string(body))
		s.mu.Unlock()
		prefix, ok := strings.CutPrefix(r.URL.Path, "/range/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		for pw, n := range breached {
			if h := sha1Hex(pw); h[:5] == prefix {
				fmt.Fprintf(w, "%s:%d\r\n", h[5:], n)
			}
		}
		for i := range 3 {
			fmt.Fprintf(w, "%035X:%d\r\n", i+1, i) // decoys; the first is padding
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// wantOnlyPrefixes fails the test unless every request the server got was
// GET /range/ and five upper-case hex characters, and nothing of the
// hashes of passwords beyond their first five characters reached it.
func (s *rangeServer) wantOnlyPrefixes(t *testing.T, passwords ...string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		t.Fatal("the range server got no request")
	}
	path := regexp.MustCompile(`^/range/[0-9A-F]{5}$`)
	for i, r := range s.requests {
		if r.Method != http.MethodGet || !path.MatchString(r.URL.Path) || r.URL.RawQuery != "" || s.bodies[i] != "" {
			t.Errorf("got %s %s with body %q, want GET /range/ and 5 hex characters", r.Method, r.URL, s.bodies[i])
		}
		seen := r.URL.String() + fmt.Sprint(r.Header) + s.bodies[i]
		for _, pw := range passwords {
			h := sha1Hex(pw)
			for _, secret := range []string{pw, h[5:], h[:6], strings.ToLower(h[:6])} {
				if strings.Contains(seen, secret) {
					t.Errorf("the request %s carries %q, more than the hash's first 5 characters", r.URL, secret)
				}
			}
		}
	}
}

func TestBreached(t *testing.T) {
	t.Parallel()
	srv := newRangeServer(t, map[string]int{"hunter2hunter2": 17, "padded-out-pass": 0})
	c := pwned.New(srv.URL, time.Second)
	tests := []struct {
		password string
		want     bool
	}{
		{"hunter2hunter2", true},
		{"padded-out-pass", false}, // count 0 is padding, not a breach
		{"a phrase no one has used", false},
	}
	for _, tt := range tests {
		got, err := c.Breached(context.Background(), tt.password)
		if err != nil || got != tt.want {
			t.Errorf("Breached(%q) = %v, %v; want %v, nil", tt.password, got, err, tt.want)
		}
	}
	srv.wantOnlyPrefixes(t, "hunter2hunter2", "padded-out-pass", "a phrase no one has used")
}

// TestFailures: every way the service can fail is an error, within the
// deadline, and no error text carries the hash or its prefix.
func TestFailures(t *testing.T) {
	t.Parallel()
	const pw = "failure-test-password"
	prefix := sha1Hex(pw)[:5]
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusInternalServerError) }},
		{"429", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTooManyRequests) }},
		{"not a range body", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>maintenance</html>") }},
		{"bad count", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "%035X:many\r\n", 1) }},
		{"short suffix", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ABC:1\r\n") }},
		{"larger than 1 MiB", func(w http.ResponseWriter, r *http.Request) {
			line := fmt.Sprintf("%035X:1\r\n", 1)
			for range (1<<20)/len(line) + 1 {
				fmt.Fprint(w, line)
			}
		}},
		{"slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-block:
			}
		}},
		{"slow body", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%035X:1\r\n", 1)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-block:
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			got, err := pwned.New(srv.URL, 100*time.Millisecond).Breached(context.Background(), pw)
			if err == nil || got {
				t.Fatalf("Breached = %v, %v; want false and an error", got, err)
			}
			if strings.Contains(err.Error(), prefix) || strings.Contains(err.Error(), pw) {
				t.Fatalf("error %q carries the password or its hash", err)
			}
		})
	}
	t.Run("down", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close() // nothing listens there now
		if got, err := pwned.New(srv.URL, time.Second).Breached(context.Background(), pw); err == nil || got {
			t.Fatalf("Breached = %v, %v; want false and an error", got, err)
		}
	})
}
