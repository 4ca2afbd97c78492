package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/mna/redisc"
)

// LoginLimits configure LoginLimiter.
type LoginLimits struct {
	// MaxPerAccount failures of one account from one IP within Window block
	// that pair; past it, failures of the account from all IPs together
	// start an exponential backoff.
	MaxPerAccount int
	// MaxPerIP failures from one IP within Window block that IP.
	MaxPerIP int
	Window   time.Duration
	// BackoffBase and BackoffMax shape the account-wide backoff:
	// BackoffBase * 2^(failures - MaxPerAccount), at most BackoffMax.
	BackoffBase, BackoffMax time.Duration
}

// Block is why a login attempt was refused. The values are those the
// login script returns.
type Block int

// Why a login attempt was refused.
const (
	BlockedNone    Block = 0
	BlockedIP      Block = 1 // too many failures from this IP
	BlockedPair    Block = 2 // too many failures of this account from this IP
	BlockedAccount Block = 3 // account-wide backoff after failures from many IPs
	BlockedDevice  Block = 4 // too many failures from this device (BeginDevice)
)

// String names the block for logs and audit lines: "none", "ip",
// "account_and_ip" or "account_backoff".
func (b Block) String() string {
	switch b {
	case BlockedNone:
		return "none"
	case BlockedIP:
		return "ip"
	case BlockedPair:
		return "account_and_ip"
	case BlockedAccount:
		return "account_backoff"
	case BlockedDevice:
		return "device"
	}
	return "unknown"
}

// LoginLimiter throttles failed logins with sliding windows in Redis,
// shared by every app instance. Each attempt costs one round trip: a Lua
// script checks the limits and, when the attempt may go ahead, records it
// as a failure in advance. A successful login then clears the account's
// counters and withdraws the attempt from the IP's.
type LoginLimiter struct {
	conns  Conns
	limits LoginLimits
	now    func() time.Time
}

// NewLoginLimiter returns a limiter on conns. now is the clock.
func NewLoginLimiter(conns Conns, l LoginLimits, now func() time.Time) *LoginLimiter {
	if l.BackoffBase <= 0 {
		l.BackoffBase = time.Second
	}
	if l.BackoffMax <= 0 {
		l.BackoffMax = 5 * time.Minute
	}
	return &LoginLimiter{conns: conns, limits: l, now: now}
}

// Attempt is a login attempt admitted by Begin or BeginDevice.
type Attempt struct {
	keys   []any // the windows it was recorded in
	member string
}

// Decision is Begin's answer.
type Decision struct {
	Blocked    Block         // BlockedNone when the attempt may go ahead
	RetryAfter time.Duration // when Blocked: how long until an attempt may succeed the check
	Attempt    Attempt       // when not Blocked: pass to Succeeded on success
}

// keys are the three sliding windows of an attempt: the pair, the account
// and the IP. On a Redis Cluster the pair and the account share the
// account's {hash tag}, and the IP's window is in a slot of its own
// (beginSplit).
func keys(account, ip string, cluster bool) []any {
	if cluster {
		return []any{
			"gatehouse:lf:pair:{" + account + "}:" + ip,
			"gatehouse:lf:acct:{" + account + "}",
			"gatehouse:lf:ip:" + ip,
		}
	}
	return []any{
		"gatehouse:lf:pair:" + account + ":" + ip,
		"gatehouse:lf:acct:" + account,
		"gatehouse:lf:ip:" + ip,
	}
}

// loginScript checks the three sliding windows and records the attempt.
// KEYS: pair, account, ip. ARGV: now_ms, window_ms, max_account, max_ip,
// member, backoff_base_ms, backoff_max_ms. Returns {blocked, retry_ms}.
var loginScript = redis.NewScript(3, `
local now, win = tonumber(ARGV[1]), tonumber(ARGV[2])
local maxacct, maxip = tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 1, 3 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - win) end
-- The attempt that must leave the window before the count drops below max.
local function retry(key, count, max)
  local e = redis.call('ZRANGE', key, count - max, count - max, 'WITHSCORES')
  return tonumber(e[2]) + win - now
end
local ip = redis.call('ZCARD', KEYS[3])
if ip >= maxip then return {1, retry(KEYS[3], ip, maxip)} end
local pair = redis.call('ZCARD', KEYS[1])
if pair >= maxacct then return {2, retry(KEYS[1], pair, maxacct)} end
local acct = redis.call('ZCARD', KEYS[2])
if acct >= maxacct then
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  local delay = tonumber(ARGV[6]) * (2 ^ math.min(acct - maxacct, 30))
  delay = math.min(delay, tonumber(ARGV[7]))
  local wait = tonumber(last[2]) + delay - now
  if wait > 0 then return {3, wait} end
end
for i = 1, 3 do
  redis.call('ZADD', KEYS[i], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[i], win)
end
return {0, 0}
`)

// Begin checks whether a login for account (the normalised username) from
// ip may go ahead, and if so records it as a failure until Succeeded says
// otherwise. An error means Redis could not be asked: callers must refuse
// the login (fail closed).
func (l *LoginLimiter) Begin(ctx context.Context, account, ip string) (Decision, error) {
	ks := keys(account, ip, l.conns.Cluster())
	if l.conns.Cluster() {
		return l.beginSplit(ctx, ks)
	}
	return l.begin(ctx, ks)
}

// BeginDevice is Begin for an attempt that carries a valid device cookie
// for the account (OWASP's device cookies): it is limited per device, to
// the account's MaxPerAccount failures per Window, and is exempt from the
// account-wide backoff and the per-IP limit, which attackers elsewhere
// can keep up. device is the cookie's random device id.
func (l *LoginLimiter) BeginDevice(ctx context.Context, device string) (Decision, error) {
	// One window serves as all three of the script's: its pair limit
	// (MaxPerAccount) is the device's; the account and IP checks see the
	// same count and never bind first.
	k := "gatehouse:lf:dev:" + device
	d, err := l.begin(ctx, []any{k, k, k})
	if d.Blocked != BlockedNone {
		d.Blocked = BlockedDevice
	}
	return d, err
}

// begin runs loginScript on the three windows ks (pair, account, IP).
func (l *LoginLimiter) begin(ctx context.Context, ks []any) (Decision, error) {
	var buf [8]byte
	if _, err := rand.Read(buf[:]); err != nil {
		return Decision{}, err
	}
	now := l.now().UnixMilli()
	member := fmt.Sprintf("%d-%s", now, hex.EncodeToString(buf[:]))
	args := append(append([]any{}, ks...), now, l.limits.Window.Milliseconds(), l.limits.MaxPerAccount,
		l.limits.MaxPerIP, member, l.limits.BackoffBase.Milliseconds(), l.limits.BackoffMax.Milliseconds())
	c, err := l.conns.Conn(ctx, ks[0].(string))
	if err != nil {
		return Decision{}, Unavailable("login limiter", err)
	}
	defer c.Close()
	res, err := redis.Int64s(loginScript.DoContext(ctx, c, args...))
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("%d values from the script, want 2", len(res))
	}
	if err != nil {
		return Decision{}, Unavailable("login limiter", err)
	}
	if Block(res[0]) != BlockedNone {
		retry := time.Duration(res[1]) * time.Millisecond
		if retry < time.Second {
			retry = time.Second
		}
		return Decision{Blocked: Block(res[0]), RetryAfter: retry}, nil
	}
	return Decision{Attempt: Attempt{keys: ks, member: member}}, nil
}

// ipScript checks the IP's window alone, for beginSplit: as loginScript
// does, without recording. KEYS[1] ip. ARGV: now_ms, window_ms, max_ip.
// Returns {blocked, retry_ms}.
var ipScript = redis.NewScript(1, `
local now, win, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)
local n = redis.call('ZCARD', KEYS[1])
if n < max then return {0, 0} end
local e = redis.call('ZRANGE', KEYS[1], n - max, n - max, 'WITHSCORES')
return {1, tonumber(e[2]) + win - now}
`)

// beginSplit is begin on a Redis Cluster, where the IP's window is in
// another slot than the account's: it checks the IP's window, runs
// loginScript on the account's two (passing the pair's window as the IP's
// too, which it then counts again at most), and records the attempt in
// the IP's. Three round trips instead of one, and concurrent attempts from
// one IP may pass its limit by how many run at once: a login costs an
// argon2id hash, which bounds both.
func (l *LoginLimiter) beginSplit(ctx context.Context, ks []any) (Decision, error) {
	now := l.now().UnixMilli()
	ipKey := ks[2].(string)
	c, err := l.conns.Conn(ctx, ipKey)
	if err != nil {
		return Decision{}, Unavailable("login limiter", err)
	}
	res, err := redis.Int64s(ipScript.DoContext(ctx, c, ipKey, now, l.limits.Window.Milliseconds(), l.limits.MaxPerIP))
	_ = c.Close()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("%d values from the script, want 2", len(res))
	}
	if err != nil {
		return Decision{}, Unavailable("login limiter", err)
	}
	if res[0] != 0 {
		return Decision{Blocked: BlockedIP, RetryAfter: max(time.Duration(res[1])*time.Millisecond, time.Second)}, nil
	}
	d, err := l.begin(ctx, []any{ks[0], ks[1], ks[0]})
	if err != nil || d.Blocked != BlockedNone {
		return d, err
	}
	d.Attempt.keys = ks
	err = l.exec(ctx, [][]any{{"ZADD", ipKey, now, d.Attempt.member}, {"PEXPIRE", ipKey, l.limits.Window.Milliseconds()}})
	return d, err
}

// Succeeded clears the account's failures (from every IP) and withdraws the
// attempt from the IP's count.
func (l *LoginLimiter) Succeeded(ctx context.Context, a Attempt) error {
	k := a.keys
	return l.exec(ctx, [][]any{{"DEL", k[0], k[1]}, {"ZREM", k[2], a.member}})
}

// Abandon withdraws an attempt that was neither a success nor a failure:
// the password was never checked (the server was saturated, or MongoDB
// was down). It must not count against the account or the IP.
func (l *LoginLimiter) Abandon(ctx context.Context, a Attempt) error {
	k := a.keys
	return l.exec(ctx, [][]any{{"ZREM", k[0], a.member}, {"ZREM", k[1], a.member}, {"ZREM", k[2], a.member}})
}

// exec runs cmds, whose first argument is a key, in one MULTI/EXEC round
// trip; on a Redis Cluster, one per run of commands whose keys share a
// slot (every key of one command does).
func (l *LoginLimiter) exec(ctx context.Context, cmds [][]any) error {
	for len(cmds) > 0 {
		n := 1
		if l.conns.Cluster() {
			for n < len(cmds) && redisc.Slot(cmds[n][1].(string)) == redisc.Slot(cmds[0][1].(string)) {
				n++
			}
		} else {
			n = len(cmds)
		}
		if err := l.execOne(ctx, cmds[:n]); err != nil {
			return err
		}
		cmds = cmds[n:]
	}
	return nil
}

func (l *LoginLimiter) execOne(ctx context.Context, cmds [][]any) error {
	c, err := l.conns.Conn(ctx, cmds[0][1].(string))
	if err != nil {
		return Unavailable("login limiter", err)
	}
	defer c.Close()
	_ = c.Send("MULTI")
	for _, cmd := range cmds {
		_ = c.Send(cmd[0].(string), cmd[1:]...)
	}
	_, err = redis.DoContext(c, ctx, "EXEC")
	return Unavailable("login limiter", err)
}
