package web_test

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/web"
)

// TestTouchOncePerInterval: when the touch interval has passed, 64
// requests in flight on one session touch it once between them: one
// MongoDB lookup of the user, and no Set-Cookie. The first lookup is held
// until the 63 other responses are back, so that every request loads the
// session before anyone touches it.
func TestTouchOncePerInterval(t *testing.T) {
	t.Parallel()
	const requests = 64
	clock := newClock()
	var (
		armed, held atomic.Bool
		lookups     atomic.Int64
		others      = make(chan struct{})
	)
	a := newApp(t, newBackends(t), options{now: clock.now, wrapUsers: func(u web.Users) web.Users {
		return hookedUsers{Users: u, beforeByID: func() {
			if !armed.Load() {
				return
			}
			lookups.Add(1)
			if held.CompareAndSwap(false, true) {
				select {
				case <-others:
				case <-time.After(10 * time.Second):
				}
			}
		}}
	}})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("busy", "password-1"), "/dashboard")
	wantStatus(t, b.get("/dashboard"), http.StatusOK) // pops the welcome flash

	clock.advance(61 * time.Second)
	armed.Store(true)
	var (
		wg        sync.WaitGroup
		done      atomic.Int64
		setCookie atomic.Int64
	)
	for range requests {
		wg.Go(func() {
			r := b.get("/api/dashboard")
			if r.StatusCode != http.StatusOK {
				t.Errorf("got status %d, want 200", r.StatusCode)
			}
			if len(r.Header.Values("Set-Cookie")) > 0 {
				setCookie.Add(1)
			}
			if done.Add(1) == requests-1 {
				close(others)
			}
		})
	}
	wg.Wait()
	t.Logf("%d concurrent requests: %d user lookups, %d Set-Cookie", requests, lookups.Load(), setCookie.Load())
	if n := lookups.Load(); n != 1 {
		t.Errorf("the touch looked the user up %d times, want once", n)
	}
	if n := setCookie.Load(); n != 0 {
		t.Errorf("%d responses sent Set-Cookie, want none", n)
	}
	// The touch took: the next interval is a minute away.
	lookups.Store(0)
	clock.advance(30 * time.Second)
	wantStatus(t, b.get("/api/dashboard"), http.StatusOK)
	if n := lookups.Load(); n != 0 {
		t.Errorf("a request within the interval looked the user up %d times", n)
	}
}
