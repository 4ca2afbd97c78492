package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// startRun runs the program as main would, with env as its whole
// environment, and waits until /healthz answers. It listens on env["PORT"],
// or on a free port that it records there, so that a second startRun with
// the same env restarts the app on the same address. The returned function
// stops it (as SIGTERM would) and returns run's error.
func startRun(t *testing.T, env map[string]string) (base string, out *testenv.LogBuffer, stop func() error) {
	t.Helper()
	if env["PORT"] == "" {
		env["PORT"] = fmt.Sprint(testenv.FreePort(t))
	}
	if _, ok := env["METRICS_ADDR"]; !ok {
		env["METRICS_ADDR"] = "off" // many instances run at once
	}
	port := env["PORT"]
	ctx, cancel := context.WithCancel(context.Background())
	out = &testenv.LogBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"gatehouse", "serve"}, func(k string) string { return env[k] }, strings.NewReader(""), out, out)
	}()
	base = "http://127.0.0.1:" + port
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = errors.New("run did not return within 30s of cancellation")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-done:
			done <- err // for stop, called by Cleanup
			t.Fatalf("run returned early: %v\n%s", err, out)
		default:
		}
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, out, stop
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not healthy in time:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunServesAndShutsDown(t *testing.T) {
	redisURL, _ := testenv.Redis(t)
	mongoURI, db := testenv.Mongo(t)
	base, out, stop := startRun(t, map[string]string{
		"APP_ENV": "production", "REDIS_URL": redisURL, "MONGO_URI": mongoURI, "MONGO_DB": db,
		"COOKIE_SECURE": "false", "SHUTDOWN_DRAIN": "0s", "MAIL_ENABLED": "false",
	})

	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: got %d, want 200", resp.StatusCode)
	}
	post := func(path, body string) *http.Response {
		t.Helper()
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp
	}
	if r := post("/auth/register", `{"username":"nina","password":"password-1"}`); r.StatusCode != http.StatusCreated {
		t.Fatalf("register: got %d", r.StatusCode)
	}
	r := post("/auth/login", `{"username":"nina","password":"password-1"}`)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("login: got %d", r.StatusCode)
	}
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	logs := out.String()
	// Production logs are JSON, one access line per request, and never
	// hold the password or the session token.
	if !strings.Contains(logs, `"msg":"request"`) || !strings.Contains(logs, `"route":"/auth/login"`) {
		t.Errorf("no JSON access log line for /auth/login:\n%s", logs)
	}
	if strings.Contains(logs, "password-1") {
		t.Error("the password reached the log")
	}
	for _, c := range r.Cookies() {
		if strings.Contains(logs, c.Value) {
			t.Error("the session token reached the log")
		}
	}
	if !strings.Contains(logs, `"msg":"stopped"`) {
		t.Errorf("no clean shutdown in the log:\n%s", logs)
	}
	// Durations read as they are set, not as nanoseconds or 24h0m0s.
	for _, want := range []string{` lifetime=24h idle=30m `, `"msg":"shutting down","timeout":"15s"`,
		`"msg":"no admin yet: create one with: gatehouse user add -username NAME -role admin"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

// TestGracefulShutdownFinishesInFlight: a request in progress when the
// signal arrives completes. The request asks for "100 Continue", which the
// server sends only once the handler reads the body: from then on the
// handler is provably running, and the body is sent after shutdown begins.
func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	redisURL, _ := testenv.Redis(t)
	mongoURI, db := testenv.Mongo(t)
	base, _, stop := startRun(t, map[string]string{"REDIS_URL": redisURL, "MONGO_URI": mongoURI, "MONGO_DB": db})
	addr := strings.TrimPrefix(base, "http://")

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	body := `{"username":"oscar","password":"password-1"}`
	fmt.Fprintf(conn, "POST /auth/register HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, len(body))
	rd := bufio.NewReader(conn)
	cont, err := http.ReadResponse(rd, nil)
	if err != nil || cont.StatusCode != http.StatusContinue {
		t.Fatalf("got %v, %v; want 100 Continue", cont, err)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	// Shutdown has begun once the listener refuses new connections.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener never closed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("in-flight request: got %d, want 201", resp.StatusCode)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"APP_ENV": "production"}, "REDIS_URL"},
		{map[string]string{"APP_ENV": "production", "REDIS_URL": "redis://x"}, "MONGO_URI"},
		{map[string]string{"APP_ENV": "production", "REDIS_URL": "redis://x", "MONGO_URI": "mongodb://y", "PORT": "eighty"}, "PORT"},
		// Production sends mail, or says it will not.
		{map[string]string{"APP_ENV": "production", "REDIS_URL": "redis://x", "MONGO_URI": "mongodb://y"}, "SMTP_URL is required in production, or set MAIL_ENABLED=false"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := run(context.Background(), []string{"gatehouse"}, func(k string) string { return tt.env[k] }, strings.NewReader(""), &out, &out)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("env %v: got %v, want an error naming %s", tt.env, err, tt.want)
		}
	}
}

func TestRunCommands(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"gatehouse", "help"}, func(string) string { return "" }, strings.NewReader(""), &out, &out); err != nil || !strings.Contains(out.String(), "Usage") {
		t.Fatalf("help: got %v, %q", err, out.String())
	}
	if err := run(context.Background(), []string{"gatehouse", "frobnicate"}, func(string) string { return "" }, strings.NewReader(""), &out, &out); !errors.Is(err, errUsage) {
		t.Fatalf("unknown command: got %v, want errUsage", err)
	}
	// healthcheck fails when nothing listens.
	port := testenv.FreePort(t)
	if err := run(context.Background(), []string{"gatehouse", "healthcheck"}, func(k string) string {
		if k == "PORT" {
			return fmt.Sprint(port)
		}
		return ""
	}, strings.NewReader(""), &out, &out); err == nil {
		t.Fatal("healthcheck succeeded with no server")
	}
}

// TestProductionBinaryHasNoEmbeddedServers: the dev stand-ins sit behind
// the dev build tag and must not reach the production binary.
func TestProductionBinaryHasNoEmbeddedServers(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := string(out)
	if !strings.Contains(deps, "github.com/gomodule/redigo/redis") {
		t.Fatal("go list output does not look like a dependency list")
	}
	for _, banned := range []string{"github.com/FerretDB/FerretDB", "github.com/alicebob/miniredis", "github.com/emersion/go-smtp", "internal/embedded", "internal/testenv"} {
		if strings.Contains(deps, banned) {
			t.Errorf("the production binary links %s", banned)
		}
	}
}

// TestStartupSaysHowToCreateTheFirstAdmin: with no enabled admin, the
// start-up log says how to make one, once there is one, it does not.
func TestStartupSaysHowToCreateTheFirstAdmin(t *testing.T) {
	redisURL, _ := testenv.Redis(t)
	mongoURI, db := testenv.Mongo(t)
	env := map[string]string{"REDIS_URL": redisURL, "MONGO_URI": mongoURI, "MONGO_DB": db}
	const hint = `msg="no admin yet: create one with: go run -tags dev ./cmd/gatehouse user add -username NAME -role admin"`

	_, out, stop := startRun(t, env)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), hint) {
		t.Errorf("no admin, and no hint in the log:\n%s", out)
	}
	if _, err := runCLI(t, env, "password-1\n", "user", "add", "-username", "root", "-role", "admin"); err != nil {
		t.Fatal(err)
	}
	_, out, stop = startRun(t, env)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "no admin yet") {
		t.Errorf("an admin, and still the hint:\n%s", out)
	}
}

// TestRunSendsMailInProduction: production mode, with SMTP_URL naming a
// real SMTP server (one in the test) and PUBLIC_URL, queues and sends the
// verification mail of a new account, with links to PUBLIC_URL.
func TestRunSendsMailInProduction(t *testing.T) {
	redisURL, _ := testenv.Redis(t)
	mongoURI, db := testenv.Mongo(t)
	smtp := testenv.SMTP(t, 0)
	base, _, _ := startRun(t, map[string]string{
		"APP_ENV": "production", "REDIS_URL": redisURL, "MONGO_URI": mongoURI, "MONGO_DB": db,
		"COOKIE_SECURE": "false", "SHUTDOWN_DRAIN": "0s", "SMTP_URL": smtp.URL,
		"MAIL_FROM": "Gatehouse <noreply@gatehouse.test>", "PUBLIC_URL": "https://login.gatehouse.test",
	})
	resp, err := http.Post(base+"/auth/register", "application/json",
		strings.NewReader(`{"username":"pam","password":"correct horse 1","email":"pam@example.com"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: got %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	msgs, err := smtp.Wait(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.From != "noreply@gatehouse.test" || len(m.To) != 1 || m.To[0] != "pam@example.com" ||
		!strings.Contains(m.Text, "https://login.gatehouse.test/email/verify?token=") {
		t.Fatalf("got mail from %q to %v:\n%s", m.From, m.To, m.Text)
	}
}
