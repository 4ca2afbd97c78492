//go:build dev

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/datalock"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestDevEmbeddedDefaults is `make run` on a machine with nothing set: the
// app starts its own Redis and FerretDB under DATA_DIR and serves.
func TestDevEmbeddedDefaults(t *testing.T) {
	dir := t.TempDir()
	base, out, stop := startRun(t, map[string]string{"DATA_DIR": dir})
	resp, err := http.Post(base+"/auth/register", "application/json", strings.NewReader(`{"username":"pat","password":"password-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: got %d\n%s", resp.StatusCode, out)
	}
	resp, err = http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: got %d", resp.StatusCode)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "FerretDB started") {
		t.Errorf("no embedded FerretDB in the log:\n%s", out)
	}

	// The data survives a restart of the whole dev process.
	base, _, stop = startRun(t, map[string]string{"DATA_DIR": dir})
	resp, err = http.Post(base+"/auth/login", "application/json", strings.NewReader(`{"username":"pat","password":"password-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login after restart: got %d", resp.StatusCode)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestDevUserCommandUsesRunningServer: `gatehouse user add` beside a
// running `make run` talks to its embedded servers (through
// data/dev-services.env) rather than starting its own on the same files.
func TestDevUserCommandUsesRunningServer(t *testing.T) {
	dir := t.TempDir()
	base, _, stop := startRun(t, map[string]string{"DATA_DIR": dir})
	env := map[string]string{"DATA_DIR": dir, "LOG_LEVEL": "error"}
	if out, err := runCLI(t, env, "password-1\n", "user", "add", "-username", "admin1", "-role", "admin"); err != nil {
		t.Fatalf("user add: %q, %v", out, err)
	}
	c := newAPIClient(t, base)
	if code := c.post("/auth/login", `{"username":"admin1","password":"password-1"}`); code != http.StatusOK {
		t.Fatalf("the server does not see the user the command added: %d", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// With the server gone the command starts its own embedded servers,
	// and says nothing about them: its output is the list.
	out, errOut, err := runCLIOutput(t, map[string]string{"DATA_DIR": dir}, "", "user", "list")
	if err != nil || !strings.HasPrefix(out, "USERNAME") || !strings.Contains(out, "admin1") || errOut != "" {
		t.Fatalf("user list without a server: got stdout %q, stderr %q, %v", out, errOut, err)
	}
}

// TestDevSecondServeRefuses: a second `make run` on the same DATA_DIR
// refuses before it starts anything, and says which process holds the
// folder. The first server keeps its state file, so that `gatehouse user
// disable` beside it still signs people out on its Redis.
func TestDevSecondServeRefuses(t *testing.T) {
	dir := t.TempDir()
	base, _, stop := startRun(t, map[string]string{"DATA_DIR": dir})
	port := strings.TrimPrefix(base, "http://127.0.0.1:")
	state, err := os.ReadFile(filepath.Join(dir, "dev-services.env"))
	if err != nil {
		t.Fatal(err)
	}
	c := newAPIClient(t, base)
	if code := c.post("/auth/register", `{"username":"pat","password":"password-1"}`); code != http.StatusCreated {
		t.Fatalf("register: %d", code)
	}
	if code := c.post("/auth/login", `{"username":"pat","password":"password-1"}`); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	if code := c.get("/api/dashboard"); code != http.StatusOK {
		t.Fatalf("dashboard: %d", code)
	}

	second := map[string]string{"DATA_DIR": dir, "PORT": fmt.Sprint(testenv.FreePort(t)), "METRICS_ADDR": "off"}
	var out testenv.LogBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = run(ctx, []string{"gatehouse", "serve"}, func(k string) string { return second[k] }, strings.NewReader(""), &out, &out)
	want := fmt.Sprintf("data folder %s is in use by gatehouse serve, pid %d (started ", dir, os.Getpid())
	if err == nil || !strings.Contains(err.Error(), want) || !strings.HasSuffix(err.Error(), ", http://localhost:"+port+"); stop it first") {
		t.Fatalf("second serve: got %v, want %q...http://localhost:%s); stop it first", err, want, port)
	}
	if out.String() != "" {
		t.Errorf("the refused server logged (and so got further than the lock):\n%s", out.String())
	}
	if now, err := os.ReadFile(filepath.Join(dir, "dev-services.env")); err != nil || string(now) != string(state) {
		t.Fatalf("the first server's dev-services.env: got %q, %v, want %q", now, err, state)
	}
	if err := run(ctx, []string{"gatehouse", "dev-lock-check", dir}, func(string) string { return "" }, strings.NewReader(""), &out, &out); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("dev-lock-check while served: got %v, want %q", err, want)
	}

	got, err := runCLI(t, map[string]string{"DATA_DIR": dir, "LOG_LEVEL": "error"}, "", "user", "disable", "pat")
	if err != nil || !strings.Contains(got, "1 session signed out") {
		t.Fatalf("user disable beside the server: got %q, %v", got, err)
	}
	if code := c.get("/api/dashboard"); code != http.StatusUnauthorized {
		t.Fatalf("after disable: got %d, want 401", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"gatehouse", "dev-lock-check", dir}, func(string) string { return "" }, strings.NewReader(""), &out, &out); err != nil {
		t.Errorf("dev-lock-check after the server stopped: %v", err)
	}
}

// TestDevUserCommandHoldsTheLock: a user command that starts the embedded
// services itself (no server runs) holds the data folder while they run,
// so that a `make run` meanwhile refuses, naming the command; another
// command refuses too.
func TestDevUserCommandHoldsTheLock(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Load(func(k string) string { return map[string]string{"DATA_DIR": dir}[k] })
	if err != nil {
		t.Fatal(err)
	}
	stopServices, err := devServices(t.Context(), &cfg, slog.New(slog.DiscardHandler), "user add")
	if err != nil {
		t.Fatal(err)
	}
	defer stopServices()
	want := fmt.Sprintf("data folder %s is in use by gatehouse user add, pid %d (started ", dir, os.Getpid())
	env := map[string]string{"DATA_DIR": dir, "PORT": "0", "METRICS_ADDR": "off"}
	err = run(t.Context(), []string{"gatehouse", "serve"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.HasSuffix(err.Error(), "); stop it first") {
		t.Fatalf("serve beside the command: got %v, want %q", err, want)
	}
	if _, err := runCLI(t, map[string]string{"DATA_DIR": dir}, "", "user", "list"); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("a second command: got %v, want %q", err, want)
	}
	stopServices()
	if err := datalock.Check(dir); err != nil {
		t.Fatalf("after the command: %v", err)
	}
}
