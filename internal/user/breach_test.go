package user_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/pwned"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

const msgBreached = "Choose a different password: this one has appeared in a data breach"

// fakeRange is a Pwned Passwords range API that knows one breached
// password, or fails as down or slow. It records the paths it is asked.
type fakeRange struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newFakeRange(t *testing.T, breached string, behaviour string) *fakeRange {
	t.Helper()
	sum := sha1.Sum([]byte(breached))
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	f := &fakeRange{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.paths = append(f.paths, r.URL.RequestURI())
		f.mu.Unlock()
		switch behaviour {
		case "slow":
			<-r.Context().Done()
			return
		case "error":
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/range/"+h[:5] {
			fmt.Fprintf(w, "%s:42\r\n", h[5:])
		}
		fmt.Fprintf(w, "%035X:0\r\n", 7)
	}))
	t.Cleanup(f.Close)
	if behaviour == "down" {
		f.Close()
	}
	return f
}

// TestBreachedPasswords: with a breach checker, a password the range API
// lists is refused at sign-up and at a password change; a clean one is
// accepted; and when the API is down, slow or failing, the password is
// accepted with a warning in the log that holds neither the password nor
// its hash. The API only ever sees five hex characters of a hash.
func TestBreachedPasswords(t *testing.T) {
	t.Parallel()
	const breached, clean = "hunter2hunter2", "staple-gun-orbit"
	tests := []struct {
		behaviour string // "" answers; down, slow, error fail
		password  string
		refused   bool
		warned    bool
	}{
		{"", breached, true, false},
		{"", clean, false, false},
		{"down", breached, false, true},
		{"slow", breached, false, true},
		{"error", breached, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour+"/"+tt.password, func(t *testing.T) {
			t.Parallel()
			srv := newFakeRange(t, breached, tt.behaviour)
			logs := &testenv.LogBuffer{}
			svc, _, _ := newService(t)
			svc.CheckBreaches(pwned.New(srv.URL, 200*time.Millisecond), slog.New(slog.NewTextHandler(logs, nil)))
			ctx := context.Background()

			_, err := svc.Register(ctx, "breachy", tt.password)
			if tt.refused {
				wantValidation(t, err, "password", msgBreached)
			} else if err != nil {
				t.Fatalf("Register with %q: got %v, want nil", tt.password, err)
			}
			u, err := svc.Register(ctx, "changer", "correct horse battery")
			if err != nil {
				t.Fatal(err)
			}
			err = svc.ChangePassword(ctx, u.ID, "correct horse battery", tt.password)
			if tt.refused {
				wantValidation(t, err, "password", msgBreached)
			} else if err != nil {
				t.Fatalf("ChangePassword to %q: got %v, want nil", tt.password, err)
			}

			log := logs.String()
			if got := strings.Contains(log, "level=WARN"); got != tt.warned {
				t.Errorf("got a warning %v, want %v; log:\n%s", got, tt.warned, log)
			}
			sum := sha1.Sum([]byte(tt.password))
			h := hex.EncodeToString(sum[:])
			for _, secret := range []string{tt.password, h, strings.ToUpper(h), strings.ToUpper(h[:5])} {
				if strings.Contains(log, secret) {
					t.Errorf("the log holds %q:\n%s", secret, log)
				}
			}
			if tt.behaviour == "down" {
				return
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if len(srv.paths) == 0 {
				t.Fatal("the range API was not asked")
			}
			for _, p := range srv.paths {
				if !regexp.MustCompile(`^/range/[0-9A-F]{5}$`).MatchString(p) {
					t.Errorf("the range API got %q, want /range/ and 5 hex characters", p)
				}
			}
		})
	}
}
