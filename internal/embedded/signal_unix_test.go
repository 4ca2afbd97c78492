//go:build unix

package embedded

import (
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// TestRedisSignal: a paused server (SIGSTOP) accepts no commands until it
// is continued (SIGCONT).
func TestRedisSignal(t *testing.T) {
	t.Parallel()
	r := startTestRedis(t)
	if r.Pid() != pidOf(t, r) {
		t.Fatalf("Pid() = %d, want %d", r.Pid(), pidOf(t, r))
	}
	c, err := redis.DialURL(r.URL, redis.DialReadTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := r.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP: %v", err)
	}
	if _, err := c.Do("PING"); err == nil {
		t.Fatal("PING answered while the server was paused")
	}
	if err := r.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("SIGCONT: %v", err)
	}
	c2 := dialRedis(t, r.URL)
	if _, err := c2.Do("PING"); err != nil {
		t.Fatalf("PING after SIGCONT: %v", err)
	}
}

// TestRedisKill: Kill returns once the server is gone, and Stop afterwards
// is not an error.
func TestRedisKill(t *testing.T) {
	t.Parallel()
	r := startTestRedis(t)
	pid := r.Pid()
	if err := r.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	assertProcessGone(t, pid)
	assertRefused(t, r.Addr)
	if err := r.Stop(); err != nil {
		t.Errorf("Stop after Kill: %v, want nil", err)
	}
	if err := r.Kill(); err != nil {
		t.Errorf("second Kill: %v, want nil", err)
	}
	var m *Redis
	if err := m.Signal(syscall.SIGCONT); err == nil {
		t.Errorf("Signal on nil: got %v, want an error", err)
	}
}
