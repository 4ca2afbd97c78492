package datalock

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAcquireRefusesASecondHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	started := time.Now()
	first, err := Acquire(dir, Holder{PID: 1234, Command: "serve", Started: started})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.SetURL("http://localhost:8080"); err != nil {
		t.Fatal(err)
	}

	_, err = Acquire(dir, Holder{PID: 99, Command: "serve", Started: time.Now()})
	inUse, ok := errors.AsType[*InUseError](err)
	if !ok {
		t.Fatalf("second Acquire: got %v, want an *InUseError", err)
	}
	want := fmt.Sprintf("data folder %s is in use by gatehouse serve, pid 1234 (started %s, http://localhost:8080); stop it first",
		dir, started.Format("15:04"))
	if got := inUse.Error(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if err := Check(dir); err == nil || err.Error() != want {
		t.Errorf("Check while held: got %v, want %q", err, want)
	}

	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	if err := first.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if err := Check(dir); err != nil {
		t.Errorf("Check after Release: %v", err)
	}
	again, err := Acquire(dir, Holder{PID: 99, Command: "user add", Started: time.Now()})
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	defer again.Release()
	if _, err := Acquire(dir, Holder{}); err == nil || !strings.Contains(err.Error(), "gatehouse user add, pid 99 (started ") {
		t.Errorf("holder without a URL: got %v", err)
	}
}

func TestCheckCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := Check(dir); err != nil {
		t.Fatalf("Check of a missing folder: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Check created %s: %v", dir, err)
	}
}

func TestHolderWithoutDescription(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir, Holder{PID: 1, Command: "serve", Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := os.Remove(filepath.Join(dir, holderFileName)); err != nil {
		t.Fatal(err)
	}
	err = Check(dir)
	if err == nil || !strings.Contains(err.Error(), "in use by another gatehouse process") {
		t.Errorf("got %v, want a refusal that names no one", err)
	}
}

// TestLockHeldByAnotherProcess: the lock holds across processes, and the
// kernel drops it when the holder is killed, however abruptly.
func TestLockHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	cmd.Env = append(os.Environ(), "DATALOCK_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper: got %q, %v", line, err)
	}
	want := fmt.Sprintf("in use by gatehouse serve, pid %d (started ", cmd.Process.Pid)
	if err := Check(dir); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Check: got %v, want %q", err, want)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	l, err := Acquire(dir, Holder{PID: os.Getpid(), Command: "serve", Started: time.Now()})
	if err != nil {
		t.Fatalf("Acquire after the holder was killed: %v", err)
	}
	_ = l.Release()
}

// TestHelperHoldLock is the other process of TestLockHeldByAnotherProcess.
func TestHelperHoldLock(t *testing.T) {
	dir := os.Getenv("DATALOCK_HELPER_DIR")
	if dir == "" {
		return // not run as the helper
	}
	if _, err := Acquire(dir, Holder{PID: os.Getpid(), Command: "serve", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	fmt.Println("locked")
	time.Sleep(time.Hour) // until killed
}
