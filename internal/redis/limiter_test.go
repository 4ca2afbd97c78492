package redis_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// clock is a controllable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newLimiter(t *testing.T, l redis.LoginLimits) (*redis.LoginLimiter, *clock) {
	t.Helper()
	url, _ := testenv.Redis(t)
	pool, err := redis.NewPool(url, redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.Close() })
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return redis.NewLoginLimiter(redis.PoolConns(pool), l, c.now), c
}

var defaults = redis.LoginLimits{MaxPerAccount: 5, MaxPerIP: 50, Window: 15 * time.Minute, BackoffBase: time.Second, BackoffMax: 5 * time.Minute}

// fail makes n failed attempts and checks each was admitted.
func fail(t *testing.T, l *redis.LoginLimiter, account, ip string, n int) {
	t.Helper()
	for i := range n {
		d, err := l.Begin(context.Background(), account, ip)
		if err != nil {
			t.Fatal(err)
		}
		if d.Blocked != redis.BlockedNone {
			t.Fatalf("attempt %d of %s from %s blocked (%d)", i+1, account, ip, d.Blocked)
		}
	}
}

func begin(t *testing.T, l *redis.LoginLimiter, account, ip string) redis.Decision {
	t.Helper()
	d, err := l.Begin(context.Background(), account, ip)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPairBlockedAfterMaxAndSlidesOpen(t *testing.T) {
	t.Parallel()
	l, c := newLimiter(t, defaults)
	fail(t, l, "alice", "1.1.1.1", 4)
	c.advance(5 * time.Minute)
	fail(t, l, "alice", "1.1.1.1", 1)
	d := begin(t, l, "alice", "1.1.1.1")
	if d.Blocked != redis.BlockedPair {
		t.Fatalf("6th attempt: got blocked=%d, want pair", d.Blocked)
	}
	// The oldest failure leaves the window 15 min after it was made: 10 min from now.
	if d.RetryAfter != 10*time.Minute {
		t.Fatalf("got RetryAfter %v, want 10m", d.RetryAfter)
	}
	c.advance(10*time.Minute + time.Millisecond)
	if d := begin(t, l, "alice", "1.1.1.1"); d.Blocked != redis.BlockedNone {
		t.Fatalf("after the window slid: got blocked=%d", d.Blocked)
	}
}

// TestOneIPCannotLockOutTheVictim: an attacker exhausting the account's
// limit from one IP leaves the owner, on another IP, able to try at once
// (after at most the first backoff step).
func TestOneIPCannotLockOutTheVictim(t *testing.T) {
	t.Parallel()
	l, c := newLimiter(t, defaults)
	fail(t, l, "bob", "6.6.6.6", 5)
	if d := begin(t, l, "bob", "6.6.6.6"); d.Blocked != redis.BlockedPair {
		t.Fatalf("attacker: got blocked=%d, want pair", d.Blocked)
	}
	c.advance(time.Second)
	d := begin(t, l, "bob", "2.2.2.2")
	if d.Blocked != redis.BlockedNone {
		t.Fatalf("victim from another IP: got blocked=%d after %v", d.Blocked, d.RetryAfter)
	}
}

// TestAccountBackoffGrowsExponentially: failures from many IPs slow the
// account down exponentially, up to the cap, without locking it.
func TestAccountBackoffGrowsExponentially(t *testing.T) {
	t.Parallel()
	limits := defaults
	limits.Window = time.Hour
	l, c := newLimiter(t, limits)
	for i := range 5 {
		fail(t, l, "carol", fmt.Sprintf("10.0.0.%d", i), 1)
	}
	// From 5 failures on, the next attempt waits 2^(n-5) s after the last
	// one, at most 5 minutes.
	for k := range 10 {
		want := min(time.Duration(1<<k)*time.Second, 5*time.Minute)
		ip := fmt.Sprintf("10.0.1.%d", k)
		d := begin(t, l, "carol", ip)
		if d.Blocked != redis.BlockedAccount || d.RetryAfter != want {
			t.Fatalf("after %d failures: got blocked=%d retry=%v, want account backoff %v", 5+k, d.Blocked, d.RetryAfter, want)
		}
		c.advance(want)
		fail(t, l, "carol", ip, 1)
	}
}

func TestIPLimitAcrossAccounts(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter(t, redis.LoginLimits{MaxPerAccount: 5, MaxPerIP: 10, Window: time.Minute})
	for i := range 10 {
		fail(t, l, fmt.Sprintf("user%d", i), "3.3.3.3", 1)
	}
	if d := begin(t, l, "someone", "3.3.3.3"); d.Blocked != redis.BlockedIP {
		t.Fatalf("got blocked=%d, want ip", d.Blocked)
	}
	if d := begin(t, l, "someone", "4.4.4.4"); d.Blocked != redis.BlockedNone {
		t.Fatalf("another IP: got blocked=%d", d.Blocked)
	}
}

func TestSuccessClearsAccountAndWithdrawsAttempt(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter(t, redis.LoginLimits{MaxPerAccount: 3, MaxPerIP: 3, Window: time.Minute})
	fail(t, l, "dave", "5.5.5.5", 2)
	d := begin(t, l, "dave", "5.5.5.5")
	if d.Blocked != redis.BlockedNone {
		t.Fatal("third attempt blocked")
	}
	if err := l.Succeeded(context.Background(), d.Attempt); err != nil {
		t.Fatal(err)
	}
	// The account's counters are gone: three more attempts go through.
	// The IP's count lost only the successful attempt (2 left of 3), so
	// one more is admitted and then the IP is blocked.
	fail(t, l, "dave", "5.5.5.5", 1)
	if d := begin(t, l, "dave", "5.5.5.5"); d.Blocked != redis.BlockedIP {
		t.Fatalf("got blocked=%d, want ip (successes must not reset the IP's failures)", d.Blocked)
	}
}

func TestLimiterFailsClosed(t *testing.T) {
	t.Parallel()
	srv := testenv.RedisServer(t, "", 0)
	pool, err := redis.NewPool(srv.URL, redis.Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	l := redis.NewLoginLimiter(redis.PoolConns(pool), defaults, time.Now)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Begin(context.Background(), "erin", "1.2.3.4"); err == nil {
		t.Fatal("Begin succeeded with Redis down; it must fail so that the login is refused")
	}
}

// TestOneRoundTripPerAttempt counts the commands Redis received.
func TestOneRoundTripPerAttempt(t *testing.T) {
	t.Parallel()
	url, _ := testenv.Redis(t)
	pool, err := redis.NewPool(url, redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	l := redis.NewLoginLimiter(redis.PoolConns(pool), defaults, time.Now)
	begin(t, l, "warm", "9.9.9.9") // loads the script (EVALSHA miss, then EVAL)
	c := pool.Get()
	defer c.Close()
	testenv.ResetStats(t, c)
	for range 10 {
		begin(t, l, "frank", "9.9.9.8")
	}
	calls := testenv.CommandCalls(t, c)
	if calls["evalsha"] != 10 || calls["eval"] != 0 {
		t.Fatalf("got %v, want exactly 10 EVALSHA for 10 attempts", calls)
	}
}

func TestWindowCounter(t *testing.T) {
	t.Parallel()
	url, _ := testenv.Redis(t)
	pool, err := redis.NewPool(url, redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	wc := redis.NewWindowCounter(redis.PoolConns(pool), "test:", 300*time.Millisecond)
	ctx := context.Background()
	for want := int64(1); want <= 3; want++ {
		got, err := wc.Incr(ctx, "1.2.3.4")
		if err != nil || got != want {
			t.Fatalf("got %d, %v; want %d", got, err, want)
		}
	}
	if got, _ := wc.Incr(ctx, "5.6.7.8"); got != 1 {
		t.Fatalf("other key: got %d, want 1", got)
	}
	// The window does not slide with each event: the key expires 300 ms
	// after the first one. Poll for it rather than sleep a fixed time.
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := wc.Incr(ctx, "1.2.3.4")
		if err != nil {
			t.Fatal(err)
		}
		if got == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("window never reset (count %d)", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAbandonedAttemptDoesNotCount(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter(t, redis.LoginLimits{MaxPerAccount: 2, MaxPerIP: 2, Window: time.Minute})
	for range 5 {
		d := begin(t, l, "gina", "7.7.7.7")
		if d.Blocked != redis.BlockedNone {
			t.Fatal("an abandoned attempt was counted")
		}
		if err := l.Abandon(context.Background(), d.Attempt); err != nil {
			t.Fatal(err)
		}
	}
	fail(t, l, "gina", "7.7.7.7", 2)
	if d := begin(t, l, "gina", "7.7.7.7"); d.Blocked == redis.BlockedNone {
		t.Fatal("real failures are no longer counted")
	}
}

func TestBlockString(t *testing.T) {
	t.Parallel()
	for b, want := range map[redis.Block]string{
		redis.BlockedNone: "none", redis.BlockedIP: "ip", redis.BlockedPair: "account_and_ip",
		redis.BlockedAccount: "account_backoff", redis.Block(9): "unknown",
	} {
		if got := b.String(); got != want {
			t.Errorf("Block(%d).String() = %q, want %q", int(b), got, want)
		}
	}
}

// TestDeviceAttempts: attempts with a device cookie are exempt from the
// account-wide backoff that failures from many IPs keep up, and are
// limited per device instead; a success clears only the device's window.
func TestDeviceAttempts(t *testing.T) {
	t.Parallel()
	l, c := newLimiter(t, defaults)
	ctx := context.Background()
	for i := range 12 { // from three IPs, slowly enough to be counted: the backoff is up
		ip := fmt.Sprintf("10.0.0.%d", i%3)
		if d := begin(t, l, "owner", ip); d.Blocked == redis.BlockedAccount {
			c.advance(d.RetryAfter)
			fail(t, l, "owner", ip, 1)
		}
	}
	if d := begin(t, l, "owner", "10.0.1.1"); d.Blocked != redis.BlockedAccount {
		t.Fatalf("without a device cookie: got %v, want %v", d.Blocked, redis.BlockedAccount)
	}
	d, err := l.BeginDevice(ctx, "dev-1")
	if err != nil || d.Blocked != redis.BlockedNone {
		t.Fatalf("with a device cookie: got %v, %v; want admitted", d.Blocked, err)
	}
	if err := l.Succeeded(ctx, d.Attempt); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if d, err := l.BeginDevice(ctx, "dev-1"); err != nil || d.Blocked != redis.BlockedNone {
			t.Fatalf("device failure %d: got %v, %v", i+1, d.Blocked, err)
		}
	}
	d, err = l.BeginDevice(ctx, "dev-1")
	if err != nil || d.Blocked != redis.BlockedDevice || d.RetryAfter <= 0 {
		t.Fatalf("after 5 device failures: got %v (retry %v), %v; want %v", d.Blocked, d.RetryAfter, err, redis.BlockedDevice)
	}
	if d, _ := l.BeginDevice(ctx, "dev-2"); d.Blocked != redis.BlockedNone {
		t.Fatalf("another device: got %v, want admitted", d.Blocked)
	}
}
