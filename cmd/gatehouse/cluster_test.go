package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestRedisCluster runs the app on a Redis Cluster of three masters with a
// replica each (REDIS_CLUSTER_ADDRS): sign-in, page views of one command
// each, listing and revoking sessions, and login throttling work; then it
// kills (SIGKILL) the master that holds a signed-in session's data and
// checks that, once its replica has taken over, the session still works,
// and that the requests in between got 503, never a 500.
func TestRedisCluster(t *testing.T) {
	set := testenv.RedisCluster(t)
	mongoURI, db := testenv.Mongo(t)
	env := prodEnv("", mongoURI, db)
	env["REDIS_CLUSTER_ADDRS"] = strings.Join(set.Addrs[:3], ",")
	env["LOGIN_MAX_FAILURES_ACCOUNT"] = "3"
	base, out, _ := startRun(t, env)

	ada := newClient(t, base)
	ada.signUp(t, "ada")
	ada.wantSignedIn(t, "ada")

	// A page view is one command, on the node that holds the session.
	set.ResetStats(t)
	const views = 10
	for range views {
		ada.must(t, http.MethodGet, "/api/dashboard", "", http.StatusOK)
	}
	calls := set.CommandCalls(t)
	delete(calls, "config|resetstat")
	delete(calls, "client|setname")
	delete(calls, "cluster|slots") // a new connection's layout refresh, if any
	// A replica's REPLCONF (its sync with the master, and the ACKs it
	// sends) lands in the master's stats when it falls in the window:
	// replication traffic, not ours (seen once, under load).
	delete(calls, "replconf")
	if total := sum(calls); total != views || calls["get"] != views {
		t.Fatalf("got %v for %d page views, want one GET each", calls, views)
	}

	// Listing and revoking.
	laptop, phone := newClient(t, base), newClient(t, base)
	cred := `{"username":"ada","password":"password-1"}`
	laptop.must(t, http.MethodPost, "/auth/login", cred, http.StatusOK)
	phone.must(t, http.MethodPost, "/auth/login", cred, http.StatusOK)
	list := listSessions(t, ada)
	if len(list) != 3 {
		t.Fatalf("listed %d sessions, want 3: %+v", len(list), list)
	}
	var phoneID string
	for _, s := range listSessions(t, phone) {
		if s.Current {
			phoneID = s.ID
		}
	}
	ada.must(t, http.MethodDelete, "/api/sessions/"+phoneID, "", http.StatusNoContent)
	phone.must(t, http.MethodGet, "/api/dashboard", "", http.StatusUnauthorized)
	if n := len(listSessions(t, laptop)); n != 2 {
		t.Fatalf("after revoking one: %d sessions, want 2", n)
	}

	// Throttling: the account's and the IP's windows live in different
	// slots.
	eve := newClient(t, base)
	eve.signUp(t, "eve")
	for range 3 {
		eve.must(t, http.MethodPost, "/auth/login", `{"username":"eve","password":"wrong-pass"}`, http.StatusUnauthorized)
	}
	eve.must(t, http.MethodPost, "/auth/login", `{"username":"eve","password":"password-1"}`, http.StatusTooManyRequests)
	eve.wantSignedIn(t, "eve") // sessions are not throttled

	// Failover of the master that holds ada's session.
	token := sessionCookie(t, ada)
	master, replica := set.MasterOf(t, session.DataKey(token))
	set.WaitReplicated(t, master)
	if err := set.Node(t, master).Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// Page views until the replica has taken over and the surviving
	// nodes agree on it: three 200s in a row.
	statuses := map[int]int{}
	var took time.Duration
	for ok := 0; ok < 3; {
		r, err := ada.do(http.MethodGet, "/api/dashboard", "")
		if err != nil {
			t.Fatalf("page view during the failover: %v", err)
		}
		statuses[r.status]++
		if r.status == http.StatusOK {
			if took == 0 {
				took = time.Since(killed)
			}
			ok++
		} else {
			ok = 0
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("no page view served within 30s of the kill; statuses %v\n%s", statuses, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("failover: the session's page views worked again %v after SIGKILL of its master; statuses until then and until three in a row: %v",
		took.Round(time.Millisecond), statuses)
	for status := range statuses {
		if status != http.StatusServiceUnavailable && status != http.StatusOK {
			t.Errorf("during the failover a page view got %d, want only 503s", status)
		}
	}
	if role, err := set.Role(replica); err != nil || role != "master" {
		t.Errorf("the replica %s reports %q, %v; want master", replica, role, err)
	}
	ada.wantSignedIn(t, "ada")
	if n := len(listSessions(t, ada)); n != 2 {
		t.Fatalf("after the failover: %d sessions, want 2", n)
	}
	newClient(t, base).must(t, http.MethodPost, "/auth/login", cred, http.StatusOK)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

type listedSession struct {
	ID      string `json:"id"`
	Current bool   `json:"current"`
}

// listSessions lists the client's user's sessions.
func listSessions(t *testing.T, c *client) []listedSession {
	t.Helper()
	r := c.must(t, http.MethodGet, "/api/sessions", "", http.StatusOK)
	var body struct {
		Sessions []listedSession `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatal(err)
	}
	return body.Sessions
}

// sessionCookie returns the value of the client's session cookie.
func sessionCookie(t *testing.T, c *client) string {
	t.Helper()
	u, _ := url.Parse(c.base)
	for _, ck := range c.c.Jar.Cookies(u) {
		if strings.HasSuffix(ck.Name, "gatehouse_session") {
			return ck.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}
