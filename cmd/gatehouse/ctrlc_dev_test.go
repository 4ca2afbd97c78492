//go:build dev && unix

package main

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/joho/godotenv"

	"github.com/gatehouse/gatehouse/internal/datalock"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestCtrlCExitsZero: Ctrl-C in the terminal of `make run` sends SIGINT to
// its whole foreground process group. The server stops cleanly, with its
// embedded services and the data folder's lock, and exits 0, so that make
// reports no error. The test runs main in a child process (this test
// binary, as TestHelperMain) in a group of its own, and signals the group
// as the terminal does.
func TestCtrlCExitsZero(t *testing.T) {
	dir := t.TempDir()
	port := fmt.Sprint(testenv.FreePort(t))
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperMain$")
	cmd.Env = append(os.Environ(), "GATEHOUSE_HELPER_MAIN=1", "APP_ENV=development", "REDIS_URL=", "MONGO_URI=",
		"DATA_DIR="+dir, "PORT="+port, "METRICS_ADDR=off", "LOG_LEVEL=info")
	var out testenv.LogBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })

	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://127.0.0.1:" + port + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("the server exited early: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not answer in time:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	services, err := godotenv.Read(filepath.Join(dir, "dev-services.env"))
	if err != nil {
		t.Fatal(err)
	}

	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after Ctrl-C: got %v, want exit status 0\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30s after Ctrl-C:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "msg=stopped") {
		t.Errorf("no clean shutdown in the log:\n%s", out.String())
	}
	if err := datalock.Check(dir); err != nil {
		t.Errorf("the data folder is still locked: %v", err)
	}
	for _, k := range []string{"REDIS_URL", "MONGO_URI"} {
		u, err := url.Parse(services[k])
		if err != nil {
			t.Fatal(err)
		}
		if c, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
			c.Close()
			t.Errorf("the embedded server of %s (%s) still listens", k, u.Host)
		}
	}
}

// TestHelperMain is the server of TestCtrlCExitsZero: main itself, with
// its signal handling.
func TestHelperMain(t *testing.T) {
	if os.Getenv("GATEHOUSE_HELPER_MAIN") != "1" {
		return
	}
	os.Args = []string{"gatehouse", "serve"}
	main()
}
