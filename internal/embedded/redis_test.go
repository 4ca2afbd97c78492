package embedded

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"go.uber.org/goleak"
)

func TestStartRedisServer(t *testing.T) {
	// Not parallel: it checks for leaked goroutines, process-wide.
	needRedisServer(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := filepath.Join(t.TempDir(), "not", "yet")

	r, err := StartRedisServer(t.Context(), dir, 0, nil)
	if err != nil {
		t.Fatalf("StartRedisServer: %v", err)
	}
	if !regexp.MustCompile(`^redis://127\.0\.0\.1:\d+/0$`).MatchString(r.URL) {
		t.Errorf("URL = %q, want redis://127.0.0.1:PORT/0", r.URL)
	}
	if !r.Persistent {
		t.Errorf("Persistent = false, want true")
	}
	c := dialRedis(t, r.URL)
	setGet(t, c)

	// The command line's defaults, as the server reports them.
	for _, tc := range []struct{ param, want string }{
		{"bind", "127.0.0.1"},
		{"port", strings.TrimPrefix(hostOf(t, r.URL), "127.0.0.1:")},
		{"dir", dir},
		{"daemonize", "no"},
		{"save", ""},
		{"appendonly", "yes"},
		{"appendfsync", "everysec"},
		{"protected-mode", "yes"},
	} {
		kv, err := redis.Strings(c.Do("CONFIG", "GET", tc.param))
		if err != nil {
			t.Fatalf("CONFIG GET %s: %v", tc.param, err)
		}
		if len(kv) != 2 || kv[1] != tc.want {
			t.Errorf("CONFIG GET %s = %q, want %q", tc.param, kv, tc.want)
		}
	}
	_ = c.Close()

	log, err := os.ReadFile(filepath.Join(dir, redisLogName))
	if err != nil {
		t.Fatalf("read the server's log: %v", err)
	}
	if !strings.Contains(string(log), "Ready to accept connections") {
		t.Errorf("log %s has no %q:\n%s", redisLogName, "Ready to accept connections", log)
	}

	pid := pidOf(t, r)
	if err := r.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	assertRefused(t, hostOf(t, r.URL))
	assertProcessGone(t, pid)
	if err := r.Stop(); err != nil {
		t.Errorf("second Stop: %v, want nil", err)
	}
}

func TestStartRedisServerRestartOnSameDir(t *testing.T) {
	t.Parallel()
	needRedisServer(t)
	tests := []struct {
		name     string
		args     []string
		wantKept bool
	}{
		{"append-only file by default", nil, true},
		{"appendonly no", []string{"--appendonly", "no"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			first, err := StartRedisServer(t.Context(), dir, 0, nil, tc.args...)
			if err != nil {
				t.Fatalf("first StartRedisServer: %v", err)
			}
			t.Cleanup(func() { _ = first.Stop() })
			c := dialRedis(t, first.URL)
			if _, err := c.Do("SET", "kept", "yes"); err != nil {
				t.Fatalf("SET: %v", err)
			}
			_ = c.Close()
			if err := first.Stop(); err != nil {
				t.Fatalf("Stop: %v", err)
			}

			second, err := StartRedisServer(t.Context(), dir, 0, nil, tc.args...)
			if err != nil {
				t.Fatalf("second StartRedisServer: %v", err)
			}
			t.Cleanup(func() {
				if err := second.Stop(); err != nil {
					t.Errorf("Stop: %v", err)
				}
			})
			got, err := redis.String(dialRedis(t, second.URL).Do("GET", "kept"))
			if tc.wantKept && (err != nil || got != "yes") {
				t.Errorf("GET kept after restart = %q, %v, want %q", got, err, "yes")
			}
			if !tc.wantKept && !errors.Is(err, redis.ErrNil) {
				t.Errorf("GET kept after restart = %q, %v, want %v", got, err, redis.ErrNil)
			}
		})
	}
}

func TestStartRedisServerExtraArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		args        []string
		param, want string
	}{
		{"appendonly no", []string{"--appendonly", "no"}, "appendonly", "no"},
		{"appendfsync always", []string{"--appendfsync", "always"}, "appendfsync", "always"},
		{"maxmemory", []string{"--maxmemory", "10mb"}, "maxmemory", "10485760"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := startTestRedis(t, tc.args...)
			kv, err := redis.Strings(dialRedis(t, r.URL).Do("CONFIG", "GET", tc.param))
			if err != nil {
				t.Fatalf("CONFIG GET %s: %v", tc.param, err)
			}
			if len(kv) != 2 || kv[1] != tc.want {
				t.Errorf("CONFIG GET %s = %q, want %q", tc.param, kv, tc.want)
			}
		})
	}
}

func TestStartRedisServerRequirePass(t *testing.T) {
	t.Parallel()
	r := startTestRedis(t, "--requirepass", "s3cret")
	if want := "redis://:s3cret@"; !strings.HasPrefix(r.URL, want) {
		t.Errorf("URL = %q, want prefix %q", r.URL, want)
	}
	setGet(t, dialRedis(t, r.URL))

	c, err := redis.Dial("tcp", hostOf(t, r.URL))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Do("GET", "greeting"); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Errorf("GET without password: %v, want NOAUTH error", err)
	}
}

func TestStartRedisServerRejectsArgs(t *testing.T) {
	t.Parallel()
	needRedisServer(t)
	for _, args := range [][]string{
		{"--port", "1"},
		{"--bind", "0.0.0.0"},
		{"--dir", "/"},
		{"--DAEMONIZE", "yes"},
	} {
		t.Run(args[0], func(t *testing.T) {
			r, err := StartRedisServer(t.Context(), t.TempDir(), 0, nil, args...)
			if err == nil {
				_ = r.Stop()
				t.Fatalf("StartRedisServer(%q) = nil error, want one", args)
			}
		})
	}
}

func TestStartRedisServerPort(t *testing.T) {
	t.Parallel()
	needRedisServer(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	r, err := StartRedisServer(t.Context(), t.TempDir(), port, nil)
	if err != nil {
		t.Fatalf("StartRedisServer: %v", err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	if want := "redis://127.0.0.1:" + strconv.Itoa(port) + "/0"; r.URL != want {
		t.Errorf("URL = %q, want %q", r.URL, want)
	}
	setGet(t, dialRedis(t, r.URL))
}

// holdPort listens on a free port until the test ends and returns the port.
func holdPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func TestStartRedisServerPortTaken(t *testing.T) {
	t.Parallel()
	needRedisServer(t)
	port := holdPort(t)
	r, err := StartRedisServer(t.Context(), t.TempDir(), port, nil)
	if err == nil {
		_ = r.Stop()
		t.Fatal("StartRedisServer on a taken port: nil error, want one")
	}
	if !errors.Is(err, errAddrInUse) {
		t.Errorf("StartRedisServer on a taken port: %v, want %v", err, errAddrInUse)
	}
}

func TestStartRedisServerPicksAnotherPort(t *testing.T) {
	// Not parallel: it replaces the package's freePort.
	needRedisServer(t)
	taken := holdPort(t)
	calls := 0
	orig := freePort
	freePort = func() (int, error) {
		calls++
		if calls == 1 {
			return taken, nil
		}
		return orig()
	}
	t.Cleanup(func() { freePort = orig })

	r := startTestRedis(t)
	if calls != 2 {
		t.Errorf("freePort called %d times, want 2", calls)
	}
	if got := hostOf(t, r.URL); got == "127.0.0.1:"+strconv.Itoa(taken) {
		t.Errorf("URL %q uses the taken port", r.URL)
	}
	setGet(t, dialRedis(t, r.URL))
}

func TestStartRedisServerContext(t *testing.T) {
	t.Parallel()
	needRedisServer(t)
	t.Run("cancelled before start", func(t *testing.T) {
		r, err := StartRedisServer(cancelled(), t.TempDir(), 0, nil)
		if err == nil {
			_ = r.Stop()
			t.Fatal("StartRedisServer: nil error, want one")
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("StartRedisServer: %v, want %v", err, context.Canceled)
		}
	})
	t.Run("cancelled after start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		r, err := StartRedisServer(ctx, t.TempDir(), 0, nil)
		if err != nil {
			t.Fatalf("StartRedisServer: %v", err)
		}
		t.Cleanup(func() { _ = r.Stop() })
		cancel()
		setGet(t, dialRedis(t, r.URL))
	})
}

func TestStartRedisServerNotOnPath(t *testing.T) {
	noRedisOnPath(t)
	r, err := StartRedisServer(t.Context(), t.TempDir(), 0, nil)
	if err == nil {
		_ = r.Stop()
		t.Fatal("StartRedisServer: nil error, want one")
	}
	if !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("StartRedisServer: %v, want %v", err, exec.ErrNotFound)
	}
}

func TestStartRedis(t *testing.T) {
	tests := []struct {
		name           string
		noRedisServer  bool
		wantPersistent bool
	}{
		{"redis-server on PATH", false, true},
		{"miniredis fallback", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.noRedisServer {
				noRedisOnPath(t)
			} else {
				needRedisServer(t)
			}
			dir := t.TempDir()
			r, err := StartRedis(t.Context(), dir, nil)
			if err != nil {
				t.Fatalf("StartRedis: %v", err)
			}
			t.Cleanup(func() { _ = r.Stop() })
			if r.Persistent != tc.wantPersistent {
				t.Errorf("Persistent = %v, want %v", r.Persistent, tc.wantPersistent)
			}
			if !regexp.MustCompile(`^redis://127\.0\.0\.1:\d+/0$`).MatchString(r.URL) {
				t.Errorf("URL = %q, want redis://127.0.0.1:PORT/0", r.URL)
			}
			c := dialRedis(t, r.URL)
			setGet(t, c)

			// Keys expire by the clock, also on miniredis.
			if _, err := c.Do("SET", "brief", "x", "PX", 20); err != nil {
				t.Fatalf("SET PX: %v", err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				n, err := redis.Int(c.Do("EXISTS", "brief"))
				if err != nil {
					t.Fatalf("EXISTS: %v", err)
				}
				if n == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("key with a 20 ms TTL still exists after 5 s")
				}
				time.Sleep(10 * time.Millisecond) // poll interval
			}
			_ = c.Close()

			if err := r.Stop(); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			assertRefused(t, hostOf(t, r.URL))
			if err := r.Stop(); err != nil {
				t.Errorf("second Stop: %v, want nil", err)
			}
		})
	}
}

func TestRedisStopNil(t *testing.T) {
	t.Parallel()
	var r *Redis
	if err := r.Stop(); err != nil {
		t.Errorf("Stop on nil *Redis: %v, want nil", err)
	}
}
