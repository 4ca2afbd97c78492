package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// runCLI runs `gatehouse args...` with env and input on stdin, and returns
// its standard output.
func runCLI(t *testing.T, env map[string]string, input string, args ...string) (string, error) {
	t.Helper()
	out, _, err := runCLIOutput(t, env, input, args...)
	return out, err
}

// runCLIOutput is runCLI that returns standard error too.
func runCLIOutput(t *testing.T, env map[string]string, input string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"gatehouse"}, args...), func(k string) string { return env[k] }, strings.NewReader(input), &out, &errOut)
	if strings.Contains(errOut.String(), "password-1") {
		t.Fatal("the password reached the log")
	}
	return out.String(), errOut.String(), err
}

// TestUserCommandOutput: a user command prints its result on stdout and
// nothing else; its errors (which main prints as "gatehouse: ERROR") say
// what is wrong and name the user or value, in one style. The audit lines
// show at LOG_LEVEL=debug.
func TestUserCommandOutput(t *testing.T) {
	redisURL, _ := testenv.Redis(t)
	mongoURI, db := testenv.Mongo(t)
	env := map[string]string{"REDIS_URL": redisURL, "MONGO_URI": mongoURI, "MONGO_DB": db} // LOG_LEVEL unset: info

	results := []struct {
		input string
		args  []string
		want  string
	}{
		{"password-1\n", []string{"user", "add", "-username", "ann", "-role", "admin"}, "created ann (role admin)\n"},
		{"password-1\n", []string{"user", "add", "-username", "bob"}, "created bob (role user)\n"},
		{"", []string{"user", "set-role", "bob", "admin"}, "bob: role admin, active; 0 sessions signed out now\n"},
		{"", []string{"user", "disable", "bob"}, "bob: role admin, disabled; 0 sessions signed out now\n"},
		{"", []string{"user", "enable", "BOB"}, "bob: role admin, active\n"},
		{"", []string{"user", "set-role", "bob", "user"}, "bob: role user, active; 0 sessions signed out now\n"},
	}
	for _, tt := range results {
		out, errOut, err := runCLIOutput(t, env, tt.input, tt.args...)
		if err != nil || out != tt.want || errOut != "" {
			t.Errorf("%v: got stdout %q, stderr %q, %v; want stdout %q and nothing else", tt.args, out, errOut, err, tt.want)
		}
	}

	failures := []struct {
		input string
		args  []string
		want  string
	}{
		{"", []string{"user", "disable", "nobody"}, "no such user: nobody"},
		{"", []string{"user", "set-role", "nobody", "admin"}, "no such user: nobody"},
		{"password-1\n", []string{"user", "add", "-username", "ANN"}, "username taken: ANN"},
		{"password-1\n", []string{"user", "add", "-username", "cy", "-role", "god"}, "no such role: god (want user or admin)"},
		{"", []string{"user", "set-role", "bob", "god"}, "no such role: god (want user or admin)"},
		{"short\n", []string{"user", "add", "-username", "cyd"}, "enter a password of at least 8 characters"},
		{"", []string{"user", "add", "-username", "cyd"}, "no password on stdin"},
		{"", []string{"user", "frob"}, "unknown user command: frob (try: gatehouse user help)"},
		{"", []string{"user"}, "usage: gatehouse user add|set-role|disable|enable|reset-2fa|list ... (try: gatehouse user help)"},
		{"", []string{"user", "add"}, "usage: gatehouse user add -username NAME [-role user|admin]"},
		{"", []string{"user", "add", "-x"}, "usage: gatehouse user add -username NAME [-role user|admin] (flag provided but not defined: -x)"},
		{"", []string{"user", "disable"}, "usage: gatehouse user disable NAME"},
		{"", []string{"user", "set-role", "bob"}, "usage: gatehouse user set-role NAME user|admin"},
		{"", []string{"user", "list", "extra"}, "usage: gatehouse user list [-q PREFIX]"},
		{"", []string{"frob"}, "unknown command: frob (try: gatehouse help)"},
	}
	for _, tt := range failures {
		out, errOut, err := runCLIOutput(t, env, tt.input, tt.args...)
		if err == nil || err.Error() != tt.want || out != "" || errOut != "" {
			t.Errorf("%v: got error %v, stdout %q, stderr %q; want only the error %q", tt.args, err, out, errOut, tt.want)
		}
	}
	if _, err := runCLI(t, env, "", "user", "disable", "ann"); err == nil || err.Error() != "last enabled admin: ann (make another user an admin first)" {
		t.Errorf("disable the last admin: got %v", err)
	}

	// The audit lines are there for whoever asks for them.
	env["LOG_LEVEL"] = "debug"
	_, errOut, err := runCLIOutput(t, env, "", "user", "disable", "bob")
	if err != nil || !strings.Contains(errOut, "msg=audit event=user_disabled") {
		t.Errorf("at LOG_LEVEL=debug: got stderr %q, %v; want the audit line", errOut, err)
	}
}

func TestUserCommands(t *testing.T) {
	redisURL, _ := testenv.Redis(t)
	mongoURI, db := testenv.Mongo(t)
	env := map[string]string{"REDIS_URL": redisURL, "MONGO_URI": mongoURI, "MONGO_DB": db, "LOG_LEVEL": "error"}

	out, err := runCLI(t, env, "password-1\n", "user", "add", "-username", "Root", "-role", "admin")
	if err != nil || out != "created Root (role admin)\n" {
		t.Fatalf("add: got %q, %v", out, err)
	}
	if _, err := runCLI(t, env, "password-1\n", "user", "add", "-username", "ROOT"); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Fatalf("duplicate: got %v", err)
	}
	if _, err := runCLI(t, env, "", "user", "add", "-username", "nopass"); err == nil {
		t.Fatal("add without a password succeeded")
	}
	if _, err := runCLI(t, env, "short\n", "user", "add", "-username", "weak"); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Fatalf("short password: got %v", err)
	}
	if _, err := runCLI(t, env, "password-1\n", "user", "add", "-username", "x", "-role", "god"); err == nil {
		t.Fatal("bad role accepted")
	}
	if _, err := runCLI(t, env, "password-1\n", "user", "add", "-username", "worker"); err != nil {
		t.Fatal(err)
	}

	// The worker signs in on a running server; the CLI then disables
	// them, which signs them out there at once.
	env2 := map[string]string{}
	for k, v := range env {
		env2[k] = v
	}
	base, _, _ := startRun(t, env2)
	c := newAPIClient(t, base)
	if code := c.post("/auth/login", `{"username":"worker","password":"password-1"}`); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	if code := c.get("/api/dashboard"); code != http.StatusOK {
		t.Fatalf("dashboard: %d", code)
	}
	out, err = runCLI(t, env, "", "user", "disable", "worker")
	if err != nil || !strings.Contains(out, "1 session signed out") {
		t.Fatalf("disable: got %q, %v", out, err)
	}
	if code := c.get("/api/dashboard"); code != http.StatusUnauthorized {
		t.Fatalf("after disable: got %d, want 401", code)
	}
	if code := c.post("/auth/login", `{"username":"worker","password":"password-1"}`); code != http.StatusUnauthorized {
		t.Fatalf("disabled login: got %d, want 401", code)
	}
	if _, err := runCLI(t, env, "", "user", "enable", "worker"); err != nil {
		t.Fatal(err)
	}
	// reset-2fa: for a user with no second factor it is a no-op that
	// says what it did; for an unknown user, an error.
	out, err = runCLI(t, env, "", "user", "reset-2fa", "worker")
	if err != nil || out != "worker: second factors removed; they sign in with their password alone until they set up new ones\n" {
		t.Fatalf("reset-2fa: got %q, %v", out, err)
	}
	if _, err := runCLI(t, env, "", "user", "reset-2fa", "nobody"); err == nil || !strings.Contains(err.Error(), "nobody") {
		t.Fatalf("reset-2fa of an unknown user: got %v", err)
	}
	if _, err := runCLI(t, env, "", "user", "reset-2fa"); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Fatalf("reset-2fa without a name: got %v", err)
	}

	// Roles, and the last admin.
	if _, err := runCLI(t, env, "", "user", "set-role", "root", "user"); err == nil || err.Error() != "last enabled admin: root (make another user an admin first)" {
		t.Fatalf("demote last admin: got %v", err)
	}
	if out, err := runCLI(t, env, "", "user", "set-role", "worker", "admin"); err != nil || !strings.Contains(out, "role admin") {
		t.Fatalf("promote: got %q, %v", out, err)
	}
	if _, err := runCLI(t, env, "", "user", "set-role", "root", "user"); err != nil {
		t.Fatalf("demote with another admin: %v", err)
	}
	if _, err := runCLI(t, env, "", "user", "set-role", "worker", "boss"); err == nil {
		t.Fatal("bad role accepted")
	}
	if _, err := runCLI(t, env, "", "user", "disable", "nobody"); err == nil || !strings.Contains(err.Error(), "no such user") {
		t.Fatalf("unknown user: got %v", err)
	}

	out, err = runCLI(t, env, "", "user", "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "USERNAME") ||
		!strings.Contains(lines[1], "Root") || !strings.Contains(lines[1], "user") ||
		!strings.Contains(lines[2], "worker") || !strings.Contains(lines[2], "admin") {
		t.Fatalf("list:\n%s", out)
	}
	if out, _ := runCLI(t, env, "", "user", "list", "-q", "WORK"); strings.Count(out, "\n") != 2 {
		t.Fatalf("list -q:\n%s", out)
	}

	for _, args := range [][]string{{"user"}, {"user", "frob"}, {"user", "disable"}, {"user", "set-role", "x"}, {"user", "add"}} {
		if _, err := runCLI(t, env, "", args...); !errors.Is(err, errUsage) {
			t.Errorf("%v: got %v, want errUsage", args, err)
		}
	}
}

// apiClient is a tiny cookie-keeping JSON client for these tests.
type apiClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newAPIClient(t *testing.T, base string) *apiClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &apiClient{t: t, base: base, c: &http.Client{Jar: jar}}
}

func (a *apiClient) post(path, body string) int {
	a.t.Helper()
	resp, err := a.c.Post(a.base+path, "application/json", strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (a *apiClient) get(path string) int {
	a.t.Helper()
	resp, err := a.c.Get(a.base + path)
	if err != nil {
		a.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestUserCommandWithRedisAway: `gatehouse user set-role NAME user` run
// where Redis cannot be reached changes MongoDB, says that the sessions
// end within SESSION_TOUCH_INTERVAL rather than that they were signed out,
// and that is true: the demoted admin's old session can no longer promote
// anyone once the interval has passed.
func TestUserCommandWithRedisAway(t *testing.T) {
	redisURL, _ := testenv.Redis(t)
	mongoURI, db := testenv.Mongo(t)
	env := map[string]string{"REDIS_URL": redisURL, "MONGO_URI": mongoURI, "MONGO_DB": db, "LOG_LEVEL": "error",
		"SESSION_TOUCH_INTERVAL": "1s"}
	for _, name := range []string{"boss", "deputy"} {
		if _, err := runCLI(t, env, "password-1\n", "user", "add", "-username", name, "-role", "admin"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := runCLI(t, env, "password-1\n", "user", "add", "-username", "clerk"); err != nil {
		t.Fatal(err)
	}
	server := map[string]string{}
	for k, v := range env {
		server[k] = v
	}
	base, _, _ := startRun(t, server)
	boss := newAPIClient(t, base)
	boss.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if code := boss.post("/auth/login", `{"username":"boss","password":"password-1"}`); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}

	away := map[string]string{}
	for k, v := range env {
		away[k] = v
	}
	away["REDIS_URL"] = fmt.Sprintf("redis://127.0.0.1:%d/0", testenv.FreePort(t)) // nothing listens
	away["REDIS_TIMEOUT"] = "200ms"
	out, err := runCLI(t, away, "", "user", "set-role", "boss", "user")
	if err != nil || !strings.Contains(out, "role user") || !strings.Contains(out, "end within 1s") {
		t.Fatalf("set-role with Redis away: got %q, %v; want the change, and that the sessions end within the touch interval", out, err)
	}

	time.Sleep(1100 * time.Millisecond) // one touch interval
	list, _ := runCLI(t, env, "", "user", "list", "-q", "clerk")
	if !strings.Contains(list, "clerk") {
		t.Fatalf("list: %q", list)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/admin/users/"+userID(t, env, "clerk")+"/promote", nil)
	resp, err := boss.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/login?why=security" {
		t.Fatalf("the demoted admin's old session: got %d to %q, want 303 to /login?why=security", resp.StatusCode, loc)
	}
	if out, _ := runCLI(t, env, "", "user", "list", "-q", "clerk"); strings.Contains(out, "admin") {
		t.Fatalf("the demoted admin's old session promoted clerk:\n%s", out)
	}
}

// userID returns the id of the user called name, from MongoDB.
func userID(t *testing.T, env map[string]string, name string) string {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var id string
	if err := withApp(context.Background(), cfg, slog.New(slog.DiscardHandler), "user (test)", func(a *app.App) error {
		u, err := a.Users.ByUsername(context.Background(), name)
		if err == nil {
			id = u.ID
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return id
}
