//go:build dev

package main

import (
	"net/http"
	"strings"
	"testing"
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
	// With the server gone the command starts its own embedded servers.
	if out, err := runCLI(t, env, "", "user", "list"); err != nil || !strings.Contains(out, "admin1") {
		t.Fatalf("user list without a server: %q, %v", out, err)
	}
}
