package testenv

import (
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// Small helpers every package's tests share. (internal/embedded's own
// tests cannot use them: this package imports that one.)

// InCI reports whether the tests run in CI (CI=true), where a missing
// server or tool is a failure rather than a skip.
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// SkipOrFail skips the test with msg, which says what to install, or fails
// it in CI, where a skip would hide that nothing was tested.
func SkipOrFail(t testing.TB, msg string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s (CI=%s)", msg, os.Getenv("CI"))
	}
	t.Skip(msg)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// LogBuffer collects a server's log output; it is safe for the server's
// goroutines to write while the test reads.
type LogBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// DialRedis opens a connection to the Redis server at rawURL, with 5 s
// deadlines, closed when the test ends.
func DialRedis(t testing.TB, rawURL string) redis.Conn {
	t.Helper()
	c, err := redis.DialURLContext(t.Context(), rawURL,
		redis.DialConnectTimeout(5*time.Second),
		redis.DialReadTimeout(5*time.Second),
		redis.DialWriteTimeout(5*time.Second),
	)
	if err != nil {
		t.Fatalf("testenv: dial %s: %v", rawURL, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
