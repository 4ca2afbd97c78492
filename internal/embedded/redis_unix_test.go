//go:build unix

package embedded

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRedisServerOwnProcessGroup(t *testing.T) {
	t.Parallel()
	r := startTestRedis(t)
	pid := pidOf(t, r)
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		t.Fatalf("Getpgid(%d): %v", pid, err)
	}
	if pgid != pid {
		t.Errorf("child's process group = %d, want its own (%d)", pgid, pid)
	}
	if pgid == syscall.Getpgrp() {
		t.Errorf("child shares the test's process group %d", pgid)
	}
}

func TestRedisStopKillsUnresponsiveServer(t *testing.T) {
	t.Parallel()
	needRedisServer(t)
	r, err := StartRedisServer(t.Context(), t.TempDir(), 0, nil)
	if err != nil {
		t.Fatalf("StartRedisServer: %v", err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	pid := pidOf(t, r)
	// A stopped process does not act on SIGTERM, only on SIGKILL.
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP: %v", err)
	}
	r.stopTimeout = 100 * time.Millisecond

	err = r.Stop()
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Stop: %v, want an error saying it killed the server", err)
	}
	assertProcessGone(t, pid)
	assertRefused(t, hostOf(t, r.URL))
}

func TestRedisStopAfterServerDied(t *testing.T) {
	t.Parallel()
	r := startTestRedis(t)
	pid := pidOf(t, r)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	<-r.proc.done
	if err := r.Stop(); err != nil {
		t.Errorf("Stop after the server died: %v, want nil", err)
	}
	assertProcessGone(t, pid)
}
