//go:build unix

package main

import (
	"net/http"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestRedisHang pauses redis-server (SIGSTOP): it still accepts connections
// but never answers, the worst kind of outage. Twenty concurrent requests
// that need the session each get a 503 within 2 s (REDIS_TIMEOUT is 1 s)
// instead of piling up; /healthz answers at once. After SIGCONT the same
// session works again, and once the app has stopped no goroutine is left.
func TestRedisHang(t *testing.T) {
	redisSrv := testenv.RedisServer(t, "", 0, "--appendonly", "no")
	// Runs before the server's own cleanup, which could not stop it paused.
	t.Cleanup(func() { _ = redisSrv.Signal(syscall.SIGCONT) })
	mongoURI, db := testenv.Mongo(t)
	leaks := ignoreLeaks()

	env := prodEnv(redisSrv.URL, mongoURI, db)
	env["REDIS_TIMEOUT"] = "1s"
	base, out, stop := startRun(t, env)
	c := newClient(t, base)
	c.signUp(t, "quinn")

	if err := redisSrv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	const n = 20
	start := time.Now()
	replies := burst(t, c, n, "/api/dashboard")["/api/dashboard"]
	wall := time.Since(start)
	var slowest time.Duration
	for _, r := range replies {
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Errorf("got %d, Retry-After %q; want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
		}
		slowest = max(slowest, r.elapsed)
	}
	if len(replies) != n {
		t.Errorf("%d of %d replies", len(replies), n)
	}
	if slowest > 2*time.Second {
		t.Errorf("the slowest 503 took %v, want under 2s", slowest)
	}
	t.Logf("%d concurrent requests during the hang: all answered in %v, the slowest in %v", n, wall, slowest)
	if r := c.must(t, http.MethodGet, "/healthz", "", http.StatusOK); r.elapsed > time.Second {
		t.Errorf("healthz took %v during the hang", r.elapsed)
	}

	if err := redisSrv.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	c.wantSignedIn(t, "quinn")

	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	c.tr.CloseIdleConnections()
	noPanics(t, out)
	goleak.VerifyNone(t, leaks...)
}
