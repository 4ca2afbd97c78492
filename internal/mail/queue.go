// Package mail delivers Gatehouse's e-mail: a durable queue on Redis
// Streams that request handlers add to, a worker that every app instance
// runs, and an SMTP sender (RFC 5321) built on github.com/wneessen/go-mail.
//
// The queue holds jobs, what to send ("a reset link for this login", "a
// notice of a new device"), never a rendered message: the worker composes
// each mail when it sends it, so that no link's token rests in Redis.
//
// Delivery is at least once. A job is acknowledged only after the SMTP
// server took the message; a failure waits (exponential backoff) in a
// sorted set and goes back on the stream when due; after MaxAttempts it
// moves to a dead-letter stream, with an error in the log. A job held by
// an instance that died is claimed by another after ClaimAfter (XAUTOCLAIM).
//
// All the queue's keys share the hash tag {gatehouse:mail} (Options.Name),
// so they live in one hash slot and every command and script here works
// unchanged on a Redis Cluster:
//
//	{gatehouse:mail}:jobs   the stream, with the consumer group "senders"
//	{gatehouse:mail}:retry  jobs waiting for their next attempt (sorted set, by due time)
//	{gatehouse:mail}:dead   jobs that ran out of attempts (stream, about 10,000 kept)
package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/gomodule/redigo/redis"

	gredis "github.com/gatehouse/gatehouse/internal/redis"
)

const (
	// DefaultName is the queue's name: its keys are {NAME}:jobs,
	// {NAME}:retry and {NAME}:dead, in the one hash slot of {NAME}.
	DefaultName = "gatehouse:mail"
	// Group is the consumer group every instance's worker reads in.
	Group = "senders"
	// deadMax is about how many dead jobs the dead-letter stream keeps.
	deadMax = 10000
)

// Job is one e-mail to compose and send.
type Job struct {
	ID       string            `json:"id"`   // random, for logs
	Kind     string            `json:"kind"` // what to send, such as "password_reset"
	Data     map[string]string `json:"data,omitempty"`
	Attempts int               `json:"attempts"` // failed attempts so far
	Queued   int64             `json:"queued"`   // when it was first queued, Unix ms
}

// Handler composes and sends the mail of one job. It returns nil when the
// SMTP server took the message, ErrDrop (wrapped) when there is nothing to
// send after all, an error that Permanent wraps when retrying cannot help,
// and any other error to try again later.
type Handler func(ctx context.Context, j Job) error

// ErrDrop says a job needs no mail after all: the account it names is
// gone, has no verified address, or changed since. It is acknowledged
// without sending.
var ErrDrop = errors.New("nothing to send")

// permanent marks an error that retrying cannot cure.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one that retrying cannot cure (the server refused
// the recipient for good): the job goes to the dead-letter stream at once.
func Permanent(err error) error { return permanent{err} }

// Options tune the queue. Zero fields take the defaults.
type Options struct {
	// Name names the queue's keys (DefaultName). Tests that share a
	// Redis give each queue its own.
	Name string
	// MaxAttempts failed attempts move a job to the dead-letter stream
	// (MAIL_MAX_ATTEMPTS). Default 10.
	MaxAttempts int
	// RetryBase is the wait after the first failure; each further one
	// doubles it, up to RetryMax. Defaults 10s and 15m: ten attempts
	// span about 50 minutes, so an SMTP outage shorter than that loses
	// nothing.
	RetryBase, RetryMax time.Duration
	// ClaimAfter is how long a job may stay with a consumer before
	// another claims it: longer than any send (SendTimeout), so that
	// only the jobs of instances that died are claimed. Default 2m.
	ClaimAfter time.Duration
	// SendTimeout bounds one attempt of the handler. Default 30s.
	SendTimeout time.Duration
	// Block is how long one read waits for new jobs. Default 1s.
	Block time.Duration
	// Consumer names this instance in the group. Default: host, pid and
	// a random suffix.
	Consumer string
	// Logger hears failures. Default slog.Default().
	Logger *slog.Logger
	// Observe counts outcomes: queued, sent, failed (an attempt), dead,
	// dropped. Optional.
	Observe func(outcome string)
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 10 * time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 15 * time.Minute
	}
	if o.ClaimAfter <= 0 {
		o.ClaimAfter = 2 * time.Minute
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 30 * time.Second
	}
	if o.Block <= 0 {
		o.Block = time.Second
	}
	if o.Consumer == "" {
		host, _ := os.Hostname()
		o.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomID(4))
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Observe == nil {
		o.Observe = func(string) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Queue is the mail queue on one Redis.
type Queue struct {
	pool                      *redis.Pool
	o                         Options
	stream, retryKey, deadKey string // {Name}:jobs, :retry, :dead: one hash slot
}

// NewQueue returns the queue on pool. Every call is bounded by the pool's
// timeouts and its context.
func NewQueue(pool *redis.Pool, o Options) *Queue {
	o = o.withDefaults()
	tag := "{" + o.Name + "}"
	return &Queue{pool: pool, o: o, stream: tag + ":jobs", retryKey: tag + ":retry", deadKey: tag + ":dead"}
}

// Keys returns the queue's stream, retry set and dead-letter stream.
func (q *Queue) Keys() (stream, retry, dead string) { return q.stream, q.retryKey, q.deadKey }

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// maxJobData bounds what one job carries.
const maxJobData = 4096

// Enqueue adds a job of kind with data (at most 4 KiB in all) to the
// stream, for any instance's worker to send. It sends nothing itself, so
// a request that queues mail takes the same time whatever the mail. Its
// errors wrap internal/redis.ErrUnavailable.
func (q *Queue) Enqueue(ctx context.Context, kind string, data map[string]string) error {
	j := Job{ID: randomID(8), Kind: kind, Data: data, Queued: q.o.Now().UnixMilli()}
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if len(b) > maxJobData {
		return fmt.Errorf("mail job %s: %d bytes, more than %d", kind, len(b), maxJobData)
	}
	c, err := q.pool.GetContext(ctx)
	if err != nil {
		return gredis.Unavailable("queue mail", err)
	}
	defer c.Close()
	if _, err := redis.DoContext(c, ctx, "XADD", q.stream, "*", "job", b); err != nil {
		return gredis.Unavailable("queue mail", err)
	}
	q.o.Observe("queued")
	return nil
}

// ackScript acknowledges and deletes a job, if this consumer still holds
// it (a consumer that was too slow may have lost it to a claim).
// KEYS: stream. ARGV: group, consumer, id. Returns 1, or 0 when not held.
var ackScript = redis.NewScript(1, `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if #p == 0 then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
return 1
`)

// failScript takes a failed job off the stream, if this consumer still
// holds it, and files it for its next attempt (the retry set, due at
// ARGV[5]) or, when ARGV[5] is -1, in the dead-letter stream.
// KEYS: stream, retry, dead (one hash slot). ARGV: group, consumer, id,
// job, due_ms, dead_maxlen, error.
var failScript = redis.NewScript(3, `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if #p == 0 then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
if ARGV[5] == '-1' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'job', ARGV[4], 'error', ARGV[7])
else
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
end
return 1
`)

// promoteScript moves up to ARGV[2] jobs whose time has come from the
// retry set back onto the stream. KEYS: retry, stream (one hash slot).
// ARGV: now_ms, count. Returns how many moved.
var promoteScript = redis.NewScript(2, `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, j in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'job', j)
  redis.call('ZREM', KEYS[1], j)
end
return #due
`)

// batch is how many jobs one read, claim or promotion takes.
const batch = 10

// Run sends queued mail with h until ctx is cancelled, then returns once
// the job in hand is finished (each attempt is bounded by SendTimeout). It
// creates the consumer group when missing. Redis being away is logged and
// retried; Run never gives up.
func (q *Queue) Run(ctx context.Context, h Handler) {
	lastClaim := time.Time{}
	groupReady := false
	var redisDown time.Time
	for ctx.Err() == nil {
		err := func() error {
			if !groupReady {
				if err := q.ensureGroup(ctx); err != nil {
					return err
				}
				groupReady = true
			}
			if err := q.promote(ctx); err != nil {
				return err
			}
			if now := q.o.Now(); now.Sub(lastClaim) >= q.o.ClaimAfter/4 {
				lastClaim = now
				if err := q.claim(ctx, h); err != nil {
					return err
				}
			}
			return q.read(ctx, h)
		}()
		if err == nil || ctx.Err() != nil {
			redisDown = time.Time{}
			continue
		}
		if redisDown.IsZero() {
			redisDown = q.o.Now()
			q.o.Logger.Warn("mail queue: Redis unavailable; retrying", "err", err)
		}
		if isNoGroup(err) {
			groupReady = false // the stream was deleted under us
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func isNoGroup(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && len(re) >= 7 && string(re[:7]) == "NOGROUP"
}

// ensureGroup creates the consumer group (and the stream) if missing.
func (q *Queue) ensureGroup(ctx context.Context) error {
	c, err := q.pool.GetContext(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = redis.DoContext(c, ctx, "XGROUP", "CREATE", q.stream, Group, "0", "MKSTREAM")
	var re redis.Error
	if errors.As(err, &re) && len(re) >= 9 && string(re[:9]) == "BUSYGROUP" {
		return nil
	}
	return err
}

// promote moves due retries back onto the stream.
func (q *Queue) promote(ctx context.Context) error {
	c, err := q.pool.GetContext(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = promoteScript.DoContext(ctx, c, q.retryKey, q.stream, q.o.Now().UnixMilli(), batch)
	return err
}

// claim takes over jobs that another consumer has held for longer than
// ClaimAfter (it died mid-send), and sends them.
func (q *Queue) claim(ctx context.Context, h Handler) error {
	c, err := q.pool.GetContext(ctx)
	if err != nil {
		return err
	}
	res, err := redis.Values(redis.DoContext(c, ctx, "XAUTOCLAIM", q.stream, Group, q.o.Consumer,
		q.o.ClaimAfter.Milliseconds(), "0-0", "COUNT", batch))
	c.Close()
	if err != nil {
		return err
	}
	if len(res) < 2 {
		return fmt.Errorf("XAUTOCLAIM: %d values", len(res))
	}
	entries, err := parseEntries(res[1])
	if err != nil {
		return err
	}
	for _, e := range entries {
		q.o.Logger.Info("mail queue: claimed a job another instance left unfinished", "job_id", e.job.ID, "kind", e.job.Kind)
		q.process(ctx, h, e)
	}
	return nil
}

// read waits up to Block for new jobs and sends them.
func (q *Queue) read(ctx context.Context, h Handler) error {
	c, err := q.pool.GetContext(ctx)
	if err != nil {
		return err
	}
	// The read may block for Block; the pool's read timeout may be
	// shorter, so give this one read its own.
	res, err := redis.DoWithTimeout(c, q.o.Block+5*time.Second, "XREADGROUP", "GROUP", Group, q.o.Consumer,
		"COUNT", batch, "BLOCK", q.o.Block.Milliseconds(), "STREAMS", q.stream, ">")
	c.Close()
	if err != nil || res == nil {
		return err
	}
	streams, err := redis.Values(res, nil)
	if err != nil || len(streams) == 0 {
		return err
	}
	s, err := redis.Values(streams[0], nil)
	if err != nil || len(s) != 2 {
		return fmt.Errorf("XREADGROUP: unexpected reply: %v", err)
	}
	entries, err := parseEntries(s[1])
	if err != nil {
		return err
	}
	for _, e := range entries {
		q.process(ctx, h, e)
	}
	return nil
}

// entry is one stream entry: its id and job. A deleted entry, or one that
// does not parse, has a nil job... and bad set.
type entry struct {
	id  string
	job Job
	raw []byte
	bad bool
}

// parseEntries reads [[id, [field, value, ...]], ...].
func parseEntries(v any) ([]entry, error) {
	list, err := redis.Values(v, nil)
	if err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(list))
	for _, item := range list {
		pair, err := redis.Values(item, nil)
		if err != nil || len(pair) != 2 {
			continue
		}
		id, err := redis.String(pair[0], nil)
		if err != nil {
			continue
		}
		e := entry{id: id, bad: true}
		fields, _ := redis.ByteSlices(pair[1], nil)
		for i := 0; i+1 < len(fields); i += 2 {
			if string(fields[i]) == "job" {
				e.raw = fields[i+1]
				e.bad = json.Unmarshal(e.raw, &e.job) != nil
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// process runs one attempt of a job and files the outcome. The attempt
// and the filing run to the end even when ctx is cancelled meanwhile (a
// shutdown), each under its own deadline.
func (q *Queue) process(ctx context.Context, h Handler, e entry) {
	ctx = context.WithoutCancel(ctx)
	if e.bad {
		// Deleted meanwhile, or not a job: nothing to send, ever.
		q.o.Logger.Error("mail queue: dropped an entry that is not a job", "stream_id", e.id)
		q.ack(ctx, e)
		return
	}
	sctx, cancel := context.WithTimeout(ctx, q.o.SendTimeout)
	err := h(sctx, e.job)
	cancel()
	switch {
	case err == nil:
		if q.ack(ctx, e) {
			q.o.Observe("sent")
		}
		return
	case errors.Is(err, ErrDrop):
		if q.ack(ctx, e) {
			q.o.Observe("dropped")
		}
		return
	}
	q.o.Observe("failed")
	j := e.job
	j.Attempts++
	var perm permanent
	dead := j.Attempts >= q.o.MaxAttempts || errors.As(err, &perm)
	due := int64(-1)
	wait := time.Duration(0)
	if !dead {
		wait = q.backoff(j.Attempts)
		due = q.o.Now().Add(wait).UnixMilli()
	}
	b, _ := json.Marshal(j)
	msg := err.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	c, cerr := q.pool.GetContext(ctx)
	if cerr == nil {
		var held int
		held, cerr = redis.Int(failScript.DoContext(ctx, c, q.stream, q.retryKey, q.deadKey,
			Group, q.o.Consumer, e.id, b, due, deadMax, msg))
		c.Close()
		if cerr == nil && held == 0 {
			return // another consumer claimed it meanwhile
		}
	}
	if cerr != nil {
		// The job stays pending here; after ClaimAfter an instance
		// (this one included) claims it and tries again.
		q.o.Logger.Warn("mail queue: could not file a failed attempt; the job will be claimed again", "job_id", j.ID, "err", cerr)
		return
	}
	if dead {
		q.o.Observe("dead")
		q.o.Logger.Error("mail queue: job moved to the dead-letter stream", "job_id", j.ID, "kind", j.Kind,
			"attempts", j.Attempts, "stream", q.deadKey, "err", msg)
		return
	}
	q.o.Logger.Warn("mail not sent; will try again", "job_id", j.ID, "kind", j.Kind, "attempt", j.Attempts,
		"retry_in", wait.String(), "err", msg)
}

// ack acknowledges and deletes a job; it reports whether this consumer
// still held it.
func (q *Queue) ack(ctx context.Context, e entry) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := q.pool.GetContext(ctx)
	if err == nil {
		var held int
		held, err = redis.Int(ackScript.DoContext(ctx, c, q.stream, Group, q.o.Consumer, e.id))
		c.Close()
		if err == nil {
			return held == 1
		}
	}
	// Sent, but still pending: it will be claimed and sent again after
	// ClaimAfter. At least once, then.
	q.o.Logger.Warn("mail queue: could not acknowledge a sent job; it may be sent twice", "job_id", e.job.ID, "err", err)
	return true
}

// backoff is the wait before attempt n+1 after n failures.
func (q *Queue) backoff(n int) time.Duration {
	d := q.o.RetryBase
	for i := 1; i < n && d < q.o.RetryMax; i++ {
		d *= 2
	}
	return min(d, q.o.RetryMax)
}

// Stats are the queue's sizes, for tests and operators.
type Stats struct {
	Stream  int64 // jobs on the stream, pending or not
	Pending int64 // delivered to a consumer and not yet acknowledged
	Retry   int64 // waiting for their next attempt
	Dead    int64 // in the dead-letter stream
}

// Stats reads the queue's sizes in one round trip.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	c, err := q.pool.GetContext(ctx)
	if err != nil {
		return Stats{}, gredis.Unavailable("mail stats", err)
	}
	defer c.Close()
	_ = c.Send("XLEN", q.stream)
	_ = c.Send("ZCARD", q.retryKey)
	_ = c.Send("XLEN", q.deadKey)
	_ = c.Send("XPENDING", q.stream, Group)
	if err := c.Flush(); err != nil {
		return Stats{}, gredis.Unavailable("mail stats", err)
	}
	var s Stats
	for _, dst := range []*int64{&s.Stream, &s.Retry, &s.Dead} {
		if *dst, err = redis.Int64(redis.ReceiveContext(c, ctx)); err != nil {
			return Stats{}, gredis.Unavailable("mail stats", err)
		}
	}
	p, err := redis.Values(redis.ReceiveContext(c, ctx))
	if err == nil && len(p) > 0 {
		s.Pending, _ = redis.Int64(p[0], nil)
	} else if err != nil && !isNoGroup(err) {
		return Stats{}, gredis.Unavailable("mail stats", err)
	}
	return s, nil
}

// String describes s for logs: "stream=1 pending=0 retry=0 dead=0".
func (s Stats) String() string {
	return "stream=" + strconv.FormatInt(s.Stream, 10) + " pending=" + strconv.FormatInt(s.Pending, 10) +
		" retry=" + strconv.FormatInt(s.Retry, 10) + " dead=" + strconv.FormatInt(s.Dead, 10)
}
