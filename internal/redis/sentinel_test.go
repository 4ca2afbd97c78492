package redis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func TestNewSentinelPoolRejectsBadInput(t *testing.T) {
	t.Parallel()
	good := redis.Sentinel{Addrs: []string{"127.0.0.1:26379"}, MasterName: "m"}
	tests := []struct {
		name string
		s    redis.Sentinel
		url  string
	}{
		{"no sentinels", redis.Sentinel{MasterName: "m"}, ""},
		{"no port", redis.Sentinel{Addrs: []string{"127.0.0.1"}, MasterName: "m"}, ""},
		{"bad port", redis.Sentinel{Addrs: []string{"127.0.0.1:99999"}, MasterName: "m"}, ""},
		{"no master name", redis.Sentinel{Addrs: []string{"127.0.0.1:26379"}}, ""},
		{"bad URL scheme", good, "http://:hunter2@h:1"},
		{"bad database", good, "redis://:hunter2@h:1/notadb"},
	}
	for _, tt := range tests {
		_, err := redis.NewSentinelPool(tt.s, tt.url, redis.Options{})
		if err == nil {
			t.Errorf("%s: got nil error", tt.name)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error leaks the password: %v", tt.name, err)
		}
	}
	if _, err := redis.NewSentinelPool(good, "", redis.Options{}); err != nil {
		t.Errorf("without a URL: %v", err)
	}
}

// TestSentinelPoolNoSentinelAnswers: with every sentinel unreachable, a
// ping fails, promptly, instead of waiting.
func TestSentinelPoolNoSentinelAnswers(t *testing.T) {
	t.Parallel()
	addrs := []string{
		fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
		fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
	}
	pool, err := redis.NewSentinelPool(redis.Sentinel{Addrs: addrs, MasterName: "m"}, "", redis.Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	start := time.Now()
	err = redis.Ping(context.Background(), pool, time.Second)
	if err == nil || !strings.Contains(err.Error(), "sentinels") {
		t.Fatalf("got %v, want an error about the sentinels", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Ping took %v", d)
	}
}

// TestSentinelPoolFollowsTheMaster: the pool reaches the master through the
// sentinels, with REDIS_URL's password and database; after a failover that
// demotes the old master (SENTINEL FAILOVER), a pooled connection to it is
// dropped when borrowed and writes go to the new master.
func TestSentinelPoolFollowsTheMaster(t *testing.T) {
	t.Parallel()
	set, pool := newSentinelSet(t, 3)

	c := pool.Get()
	checked := time.Now() // the connection's role was checked when dialled
	if _, err := c.Do("SET", "before", "1"); err != nil {
		t.Fatalf("SET on the master: %v", err)
	}
	_ = c.Close() // back to the pool, still connected to the old master
	direct := dialDB(t, set.Master.Addr, set.Password, 3)
	if got, err := redigo.String(direct.Do("GET", "before")); err != nil || got != "1" {
		t.Fatalf("the master's database 3 has before = %q, %v; want 1", got, err)
	}
	set.WaitReplicated(t, set.Master.Addr)

	sentinel := dialDB(t, set.Addrs[0], set.SentinelPassword, 0)
	if _, err := sentinel.Do("SENTINEL", "FAILOVER", set.MasterName); err != nil {
		t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	waitFor(t, 20*time.Second, func() error {
		if addr := set.MasterAddr(t); addr != set.Replica.Addr {
			return fmt.Errorf("sentinels name %s, want the replica %s", addr, set.Replica.Addr)
		}
		return nil
	})
	// The sentinels demote the old master to a replica of the new one when
	// they next look at it, within ten seconds; do it now.
	host, port, _ := strings.Cut(set.Replica.Addr, ":")
	if _, err := direct.Do("REPLICAOF", host, port); err != nil {
		t.Fatalf("REPLICAOF on the old master: %v", err)
	}
	if role, err := set.Role(set.Master.Addr); err != nil || role != "slave" {
		t.Fatalf("old master's role %q, %v; want slave", role, err)
	}

	// A connection's role is trusted for a second; a failover takes
	// longer than that, but the test must not depend on it.
	time.Sleep(time.Until(checked.Add(1100 * time.Millisecond)))
	c = pool.Get()
	defer c.Close()
	if _, err := c.Do("SET", "after", "1"); err != nil {
		t.Fatalf("SET after the failover: %v", err)
	}
	if got, err := redigo.String(c.Do("GET", "before")); err != nil || got != "1" {
		t.Fatalf("after the failover before = %q, %v; want 1", got, err)
	}
	onNew := dialDB(t, set.Replica.Addr, set.Password, 3)
	if got, err := redigo.String(onNew.Do("GET", "after")); err != nil || got != "1" {
		t.Fatalf("the new master's database 3 has after = %q, %v; want 1", got, err)
	}
}

// newSentinelSet starts a master, a replica and three sentinels, with
// passwords, and returns a pool on database db of their master.
func newSentinelSet(t *testing.T, db int) (*testenv.SentinelSet, *redigo.Pool) {
	t.Helper()
	set := testenv.RedisSentinels(t, "data-pw", "sentinel-pw")
	pool, err := redis.NewSentinelPool(redis.Sentinel{
		Addrs: set.Addrs, MasterName: set.MasterName, Password: set.SentinelPassword,
	}, fmt.Sprintf("redis://:data-pw@ignored:1/%d", db), redis.Options{Timeout: time.Second, MaxActive: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.Close() })
	return set, pool
}

// dialDB connects to addr, selects db and closes the connection when the
// test ends.
func dialDB(t *testing.T, addr, password string, db int) redigo.Conn {
	t.Helper()
	c, err := redigo.Dial("tcp", addr, redigo.DialPassword(password), redigo.DialDatabase(db),
		redigo.DialConnectTimeout(time.Second), redigo.DialReadTimeout(5*time.Second), redigo.DialWriteTimeout(time.Second))
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitFor polls check until it returns nil, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSentinelPoolChecksRoleOncePerInterval: busy connections do not ask
// for ROLE on every borrow, so that a page view stays one round trip in
// Sentinel mode too.
func TestSentinelPoolChecksRoleOncePerInterval(t *testing.T) {
	t.Parallel()
	set, pool := newSentinelSet(t, 0)
	direct := dialDB(t, set.Master.Addr, set.Password, 0)

	get := func() {
		t.Helper()
		c := pool.Get()
		defer c.Close()
		if _, err := c.Do("GET", "k"); err != nil {
			t.Fatalf("GET: %v", err)
		}
	}
	get() // dials, and checks the role once
	testenv.ResetStats(t, direct)
	start := time.Now()
	const borrows = 20
	for range borrows {
		get()
	}
	calls := testenv.CommandCalls(t, direct)
	// One connection is lent each time; it may be re-checked once per
	// whole second the borrows took (none, unless the machine stalls).
	if allowed := int(time.Since(start) / time.Second); calls["role"] > allowed {
		t.Errorf("%d borrows in %s sent %d ROLE, want at most %d", borrows, time.Since(start), calls["role"], allowed)
	}
	if calls["get"] != borrows {
		t.Errorf("got %d GET, want %d", calls["get"], borrows)
	}

	// A second later the next borrow checks again.
	time.Sleep(1100 * time.Millisecond)
	testenv.ResetStats(t, direct)
	get()
	if n := testenv.CommandCalls(t, direct)["role"]; n != 1 {
		t.Errorf("a borrow over a second after the last check sent %d ROLE, want 1", n)
	}
}
