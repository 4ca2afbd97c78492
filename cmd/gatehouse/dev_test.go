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
