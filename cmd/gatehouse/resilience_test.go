package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// The resilience tests run the whole program, as main does, against real
// redis-server children and FerretDB, and break those servers underneath
// it: stop, restart, pause, kill -9, fail over. They are the proof of
// docs/operations.md. Every server they start is stopped when the test
// ends.

// prodEnv is the environment of one production-mode instance on the given
// servers. The cookie is not Secure, so that the test's plain-HTTP client
// sends it back; there is no drain unless a test sets one.
func prodEnv(redisURL, mongoURI, db string) map[string]string {
	return map[string]string{
		"APP_ENV": "production", "REDIS_URL": redisURL, "MONGO_URI": mongoURI, "MONGO_DB": db,
		"COOKIE_SECURE": "false", "SHUTDOWN_DRAIN": "0s", "MAIL_ENABLED": "false",
	}
}

// client is a JSON API user with its own cookie jar and connections.
type client struct {
	base string
	c    *http.Client
	tr   *http.Transport
}

func newClient(t *testing.T, base string) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &client{base: base, tr: tr, c: &http.Client{
		Jar:           jar,
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// reply is a finished response.
type reply struct {
	status  int
	header  http.Header
	body    string
	elapsed time.Duration
	close   bool // the server sent Connection: close
}

// do sends one request; body, when not empty, is JSON.
func (c *client) do(method, path, body string) (reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b), time.Since(start), resp.Close}, err
}

// must is do that fails the test on a transport error or an unexpected
// status.
func (c *client) must(t *testing.T, method, path, body string, want int) reply {
	t.Helper()
	r, err := c.do(method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if r.status != want {
		t.Fatalf("%s %s: got %d, want %d; body %.300s", method, path, r.status, want, r.body)
	}
	return r
}

// signUp registers name and signs in.
func (c *client) signUp(t *testing.T, name string) {
	t.Helper()
	cred := fmt.Sprintf(`{"username":%q,"password":"password-1"}`, name)
	c.must(t, http.MethodPost, "/auth/register", cred, http.StatusCreated)
	c.must(t, http.MethodPost, "/auth/login", cred, http.StatusOK)
}

// wantSignedIn checks that the client's session names user.
func (c *client) wantSignedIn(t *testing.T, user string) {
	t.Helper()
	r := c.must(t, http.MethodGet, "/api/dashboard", "", http.StatusOK)
	if want := `"message":"Welcome ` + user + `"`; !strings.Contains(r.body, want) {
		t.Fatalf("dashboard: got %.300s, want %s", r.body, want)
	}
}

// failedChecks decodes the "failed" list of a /readyz reply.
func failedChecks(t *testing.T, r reply) []string {
	t.Helper()
	var v struct {
		Status string   `json:"status"`
		Failed []string `json:"failed"`
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("readyz: %v in %q", err, r.body)
	}
	return v.Failed
}

// burst sends n concurrent requests for each path with c's cookie and
// returns the replies, path by path.
func burst(t *testing.T, c *client, n int, paths ...string) map[string][]reply {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	got := make(map[string][]reply)
	for _, p := range paths {
		for range n {
			wg.Go(func() {
				r, err := c.do(http.MethodGet, p, "")
				if err != nil {
					t.Errorf("GET %s: %v", p, err)
					return
				}
				mu.Lock()
				got[p] = append(got[p], r)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	return got
}

// ignoreLeaks lists the goroutines that goleak.VerifyNone accepts: those
// running now (the test's own servers) and two that are not the app's to
// stop. FerretDB, in this process, opens an SQLite database for each new
// MongoDB database and keeps it open. scs.New starts the cleanup goroutine
// of an in-memory store that session.New then replaces by Redis; it lives
// as long as the process (one per start, not per request).
func ignoreLeaks() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreCurrent(),
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup"),
	}
}

// noPanics fails the test if the program's log mentions a panic.
func noPanics(t *testing.T, out *testenv.LogBuffer) {
	t.Helper()
	if logs := out.String(); strings.Contains(strings.ToLower(logs), "panic") {
		t.Errorf("the log mentions a panic:\n%s", logs)
	}
}

// TestRedisOutageEndToEnd: Redis goes away under a signed-in user and comes
// back (AOF everysec, as docker-compose.yml runs it, with a clean stop).
// Meanwhile requests that need the session get a 503 with Retry-After
// within 2 s, the login form renders, /healthz stays 200 and /readyz names
// Redis. Afterwards the same session works without restarting the app.
// Nothing panics, and once the app has stopped no goroutine is left.
func TestRedisOutageEndToEnd(t *testing.T) {
	dir, port := t.TempDir(), testenv.FreePort(t)
	redisSrv := testenv.RedisServer(t, dir, port)
	mongoURI, db := testenv.Mongo(t)
	leaks := ignoreLeaks()

	base, out, stop := startRun(t, prodEnv(redisSrv.URL, mongoURI, db))
	c := newClient(t, base)
	c.signUp(t, "olga")
	c.wantSignedIn(t, "olga")

	if err := redisSrv.Stop(); err != nil {
		t.Fatal(err)
	}
	const n = 10
	got := burst(t, c, n, "/api/dashboard", "/dashboard", "/")
	for path, replies := range got {
		if len(replies) != n {
			t.Errorf("GET %s: %d of %d replies", path, len(replies), n)
		}
		for _, r := range replies {
			if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
				t.Errorf("GET %s: got %d, Retry-After %q; want 503 with Retry-After", path, r.status, r.header.Get("Retry-After"))
			}
			if r.elapsed > 2*time.Second {
				t.Errorf("GET %s: the 503 took %v, want under 2s", path, r.elapsed)
			}
			wantType := "text/html"
			if path == "/api/dashboard" {
				wantType = "application/json"
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
				t.Errorf("GET %s: Content-Type %q, want %s", path, ct, wantType)
			}
		}
	}
	newClient(t, base).must(t, http.MethodGet, "/login", "", http.StatusOK)
	c.must(t, http.MethodGet, "/healthz", "", http.StatusOK)
	if failed := failedChecks(t, c.must(t, http.MethodGet, "/readyz", "", http.StatusServiceUnavailable)); fmt.Sprint(failed) != "[redis]" {
		t.Errorf("readyz: failed %v, want [redis]", failed)
	}

	redisSrv = testenv.RedisServer(t, dir, port)
	c.wantSignedIn(t, "olga")
	c.must(t, http.MethodGet, "/readyz", "", http.StatusOK)

	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if err := redisSrv.Stop(); err != nil {
		t.Fatal(err)
	}
	c.tr.CloseIdleConnections()
	noPanics(t, out)
	goleak.VerifyNone(t, leaks...)
}

// TestSessionSurvivesRedisRestart restarts a real redis-server under a
// running app and checks whether a session written before is still valid:
// it is with an append-only file, both after a clean restart with
// appendfsync everysec (docker-compose.yml's setting) and after a crash
// (SIGKILL) with appendfsync always; without persistence it is lost, which
// shows the test can tell.
func TestSessionSurvivesRedisRestart(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		crash   bool
		survive bool
	}{
		{"aof everysec, clean restart", []string{"--appendonly", "yes", "--appendfsync", "everysec"}, false, true},
		{"aof always, crash", []string{"--appendonly", "yes", "--appendfsync", "always"}, true, true},
		{"no persistence", []string{"--appendonly", "no"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, port := t.TempDir(), testenv.FreePort(t)
			redisSrv := testenv.RedisServer(t, dir, port, tt.args...)
			mongoURI, db := testenv.Mongo(t)
			base, _, _ := startRun(t, prodEnv(redisSrv.URL, mongoURI, db))
			c := newClient(t, base)
			c.signUp(t, "pia")

			stopRedis := redisSrv.Stop
			if tt.crash {
				stopRedis = redisSrv.Kill
			}
			if err := stopRedis(); err != nil {
				t.Fatal(err)
			}
			testenv.RedisServer(t, dir, port, tt.args...)

			r, err := c.do(http.MethodGet, "/api/dashboard", "")
			if err != nil {
				t.Fatal(err)
			}
			want := http.StatusUnauthorized
			if tt.survive {
				want = http.StatusOK
			}
			if r.status != want {
				t.Fatalf("after the restart: got %d, want %d; body %.200s", r.status, want, r.body)
			}
		})
	}
}

// TestSentinelFailover runs the app on a Redis master with a replica and
// three sentinels, signs in, kills the master (SIGKILL) and checks that a
// new login succeeds within 5 s of the kill and that the session written
// before the failover is still valid on the promoted replica. The data
// servers and the sentinels have passwords of their own: REDIS_URL carries
// the first (its host is ignored), REDIS_SENTINEL_PASSWORD the second.
func TestSentinelFailover(t *testing.T) {
	set := testenv.RedisSentinels(t, "data-pw", "sentinel-pw")
	mongoURI, db := testenv.Mongo(t)
	env := prodEnv("redis://:data-pw@named-by-the-sentinels/0", mongoURI, db)
	env["REDIS_SENTINEL_ADDRS"] = strings.Join(set.Addrs, ",")
	env["REDIS_SENTINEL_MASTER"] = set.MasterName
	env["REDIS_SENTINEL_PASSWORD"] = set.SentinelPassword
	base, out, _ := startRun(t, env)

	before := newClient(t, base)
	before.signUp(t, "rita")
	before.wantSignedIn(t, "rita")
	// Replication is asynchronous: a session written a moment before the
	// master dies can be lost with it. Make sure this one reached the
	// replica, so that the test checks the app, not the race.
	set.WaitReplicated(t, set.Master.Addr)

	if err := set.Master.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	after := newClient(t, base)
	cred := `{"username":"rita","password":"password-1"}`
	var took time.Duration
	failures := map[int]int{}
	for {
		r, err := after.do(http.MethodPost, "/auth/login", cred)
		if err != nil {
			t.Fatalf("login during the failover: %v", err)
		}
		if r.status == http.StatusOK {
			took = time.Since(killed)
			break
		}
		failures[r.status]++
		if time.Since(killed) > 20*time.Second {
			t.Fatalf("no successful login within 20s of the kill; statuses %v\n%s", failures, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("failover: the first login succeeded %v after SIGKILL of the master; refused before: %v", took.Round(time.Millisecond), failures)
	if took > 5*time.Second {
		t.Errorf("the first login after the kill took %v, want under 5s", took)
	}
	for status := range failures {
		if status != http.StatusServiceUnavailable {
			t.Errorf("during the failover a login got %d, want only 503s", status)
		}
	}
	if addr := set.MasterAddr(t); addr != set.Replica.Addr {
		t.Fatalf("the sentinels name %s as master, want the replica %s", addr, set.Replica.Addr)
	}
	after.wantSignedIn(t, "rita")
	before.wantSignedIn(t, "rita")
}
