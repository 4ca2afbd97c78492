package embedded

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// needRedisServer skips the test when redis-server is not on PATH, or fails it
// in CI, where it must be installed.
func needRedisServer(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not on PATH: %v", err)
		}
		const msg = "redis-server not on PATH; apt-get install -y redis-server"
		// testenv.NoteSkip, which this package cannot import (testenv
		// imports it): a line for `make test` to show.
		if path := os.Getenv("GATEHOUSE_TEST_SKIPS"); path != "" {
			if f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
				_, _ = fmt.Fprintf(f, "SKIP %s (internal/embedded): %s\n", t.Name(), msg)
				_ = f.Close()
			}
		}
		t.Skip(msg)
	}
}

// startTestRedis starts redis-server in a fresh folder and stops it when
// the test ends.
func startTestRedis(t *testing.T, args ...string) *Redis {
	t.Helper()
	needRedisServer(t)
	r, err := StartRedisServer(t.Context(), t.TempDir(), 0, nil, args...)
	if err != nil {
		t.Fatalf("StartRedisServer: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return r
}

// dialRedis opens a connection to the server at rawURL, closed when the test
// ends.
func dialRedis(t *testing.T, rawURL string) redis.Conn {
	t.Helper()
	c, err := redis.DialURLContext(t.Context(), rawURL,
		redis.DialConnectTimeout(5*time.Second),
		redis.DialReadTimeout(5*time.Second),
		redis.DialWriteTimeout(5*time.Second),
	)
	if err != nil {
		t.Fatalf("dial %s: %v", rawURL, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// setGet writes a key and reads it back.
func setGet(t *testing.T, c redis.Conn) {
	t.Helper()
	if _, err := c.Do("SET", "greeting", "hello"); err != nil {
		t.Fatalf("SET: %v", err)
	}
	got, err := redis.String(c.Do("GET", "greeting"))
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	if got != "hello" {
		t.Fatalf("GET greeting = %q, want %q", got, "hello")
	}
}

// hostOf returns host:port of a redis:// or mongodb:// URL.
func hostOf(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("parse %q: %v", rawURL, err)
	}
	return u.Host
}

// assertRefused checks that nothing listens on addr any more.
func assertRefused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		_ = c.Close()
		t.Fatalf("dial %s after Stop: connected, want connection refused", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s after Stop: %v, want connection refused", addr, err)
	}
}

// assertProcessGone checks that no process with pid exists.
func assertProcessGone(t *testing.T, pid int) {
	t.Helper()
	p, err := os.FindProcess(pid)
	if err != nil {
		return // Windows: no such process
	}
	if err := p.Signal(syscall.Signal(0)); !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("signal 0 to pid %d after Stop: %v, want %v", pid, err, os.ErrProcessDone)
	}
}

// pidOf returns the pid of the child behind r.
func pidOf(t *testing.T, r *Redis) int {
	t.Helper()
	if r.proc == nil {
		t.Fatal("no child process")
	}
	return r.proc.cmd.Process.Pid
}

// noRedisOnPath empties PATH for the test so that redis-server is not found.
func noRedisOnPath(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
}

// cancelled returns a context that is already cancelled.
func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
