package testenv

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
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
// it in CI, where a skip would hide that nothing was tested. The skip is
// also noted in $GATEHOUSE_TEST_SKIPS (see SkipLogEnv).
func SkipOrFail(t testing.TB, msg string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s (CI=%s)", msg, os.Getenv("CI"))
	}
	NoteSkip(t, msg)
	t.Skip(msg)
}

// SkipLogEnv names the variable that names a file where NoteSkip appends
// a line for each test skipped for want of a tool. `make test` sets it and
// prints the file when the tests end, because go test shows skip messages
// only with -v: without it, a package whose tests pass or skip prints one
// "ok" line, even to stderr.
const SkipLogEnv = "GATEHOUSE_TEST_SKIPS"

// NoteSkip appends "SKIP TestName (package folder): msg" to the file that
// $GATEHOUSE_TEST_SKIPS names, if any.
func NoteSkip(t testing.TB, msg string) {
	path := os.Getenv(SkipLogEnv)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Logf("testenv: note the skip in %s: %v", path, err)
		return
	}
	defer f.Close()
	// One write per line: the test binaries of every package append to
	// the same file at once.
	_, _ = fmt.Fprintf(f, "SKIP %s (%s): %s\n", t.Name(), packageDir(), msg)
}

// packageDir is the folder of the package under test (go test runs its
// binary there), relative to the module's root.
func packageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "?"
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if rel, err := filepath.Rel(dir, wd); err == nil {
				return filepath.ToSlash(rel)
			}
			return wd
		}
		if filepath.Dir(dir) == dir {
			return wd
		}
	}
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
