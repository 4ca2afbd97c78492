package mail_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/mail"
	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func newPool(t *testing.T, url string) *redigo.Pool {
	t.Helper()
	pool, err := redis.NewPool(url, redis.Options{Timeout: 500 * time.Millisecond, MaxActive: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.Close() })
	return pool
}

func newSender(t *testing.T, smtpURL string) *mail.Sender {
	t.Helper()
	s, err := mail.NewSender(smtpURL, "Gatehouse <noreply@gatehouse.test>", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sendJobs is a handler that mails each job's "to" with its id in the text.
func sendJobs(s *mail.Sender) mail.Handler {
	return func(ctx context.Context, j mail.Job) error {
		return s.Send(ctx, mail.Message{To: j.Data["to"], Subject: "Job " + j.ID,
			Text: "job=" + j.Data["n"] + "\nhttp://localhost/password/reset?token=" + strings.Repeat("ab=", 30),
			HTML: "<p>job " + j.Data["n"] + "</p>"})
	}
}

// counts collects the queue's outcomes.
type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) observe(o string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[o]++
}

func (c *counts) get(o string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[o]
}

// runQueue runs q's worker until the test ends.
func runQueue(t *testing.T, q *mail.Queue, h mail.Handler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx, h) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitStats polls the queue until ok(stats), or fails after 20 s.
func waitStats(t *testing.T, q *mail.Queue, what string, ok func(mail.Stats) bool) mail.Stats {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := q.Stats(context.Background())
		if err == nil && ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue never got to %s: %v, %v", what, s, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSenderMIME(t *testing.T) {
	t.Parallel()
	srv := testenv.SMTP(t, 0)
	s := newSender(t, srv.URL)
	link := "http://localhost:8080/password/reset?token=65a1b2c3d4e5f6a7b8c9d0e1.Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg"
	if err := s.Send(context.Background(), mail.Message{To: "José.Ruiz@bücher.example", Subject: "Réinitialiser",
		Text: "Open this link:\n" + link + "\n", HTML: `<p><a href="` + link + `">Reset</a></p>`}); err != nil {
		t.Fatal(err)
	}
	msgs, err := srv.Wait(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.ParseErr != nil {
		t.Fatal(m.ParseErr)
	}
	// The body went quoted-printable: the raw message does not hold the
	// link as it is, the decoded parts do.
	if bytes.Contains(m.Raw, []byte(link)) {
		t.Log("note: the raw message holds the link undecoded")
	}
	if !bytes.Contains(m.Raw, []byte("=3D")) {
		t.Errorf("raw message is not quoted-printable: %.400s", m.Raw)
	}
	if !strings.Contains(m.Text, link) || !strings.Contains(m.HTML, `href="`+link+`"`) {
		t.Errorf("decoded parts lack the link:\ntext: %q\nhtml: %q", m.Text, m.HTML)
	}
	if m.Subject != "Réinitialiser" || m.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("got subject %q, Auto-Submitted %q", m.Subject, m.Header.Get("Auto-Submitted"))
	}
	if len(m.To) != 1 || m.To[0] != "José.Ruiz@bücher.example" {
		t.Errorf("got envelope recipients %q", m.To)
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"smtp://user:pass@mail.example.com:587", true},
		{"smtps://mail.example.com", true},
		{"smtp://127.0.0.1:1025?starttls=opportunistic", true},
		{"smtp://mail.example.com?starttls=required", true},
		{"smtps://mail.example.com?starttls=opportunistic", false},
		{"smtp://u:s3cret@mail.example.com?starttls=never", false},
		{"smtp://mail.example.com?tls=off", false},
		{"http://u:s3cret@mail.example.com", false},
		{"smtp://:25", false},
		{"smtp://mail.example.com:99999", false},
		{"mail.example.com:25", false},
	} {
		_, err := mail.ParseURL(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("ParseURL(%q): got %v, want ok=%t", tc.url, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseURL(%q): error quotes the URL: %v", tc.url, err)
		}
	}
}

func TestQueueDelivers(t *testing.T) {
	t.Parallel()
	redisURL, _ := testenv.Redis(t)
	srv := testenv.SMTP(t, 0)
	var c counts
	q := mail.NewQueue(newPool(t, redisURL), mail.Options{Name: qname(t), Block: 200 * time.Millisecond, Observe: c.observe, Logger: testLogger(t)})
	runQueue(t, q, sendJobs(newSender(t, srv.URL)))
	for i := range 3 {
		if err := q.Enqueue(t.Context(), "test", map[string]string{"to": "pat@example.com", "n": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := srv.Wait(ctx, 3); err != nil {
		t.Fatal(err)
	}
	waitStats(t, q, "empty", func(s mail.Stats) bool { return s == mail.Stats{} })
	if c.get("queued") != 3 || c.get("sent") != 3 || c.get("failed") != 0 {
		t.Errorf("got outcomes %v, want 3 queued and 3 sent", c.m)
	}
}

// TestQueueSMTPDown: the SMTP server is away (nothing listens on its
// port) while mail is queued, then comes back. Every message arrives,
// none goes to the dead-letter stream. The backoff is shortened from its
// defaults (10 s doubling to 15 min, 10 attempts: about 50 minutes of
// outage) in proportion, so that the test takes seconds. With
// GATEHOUSE_SMTP_OUTAGE=2m the server stays away that long, with a backoff
// of 1 s doubling to 30 s (10 attempts span about 2.5 minutes).
func TestQueueSMTPDown(t *testing.T) {
	t.Parallel()
	redisURL, _ := testenv.Redis(t)
	port := testenv.FreePort(t)
	smtpURL := fmt.Sprintf("smtp://127.0.0.1:%d?starttls=opportunistic", port)
	var c counts
	base, most := 50*time.Millisecond, 400*time.Millisecond
	outage, _ := time.ParseDuration(os.Getenv("GATEHOUSE_SMTP_OUTAGE"))
	if outage > 0 {
		base, most = time.Second, 30*time.Second
	}
	q := mail.NewQueue(newPool(t, redisURL), mail.Options{Name: qname(t), Block: 100 * time.Millisecond, Observe: c.observe,
		RetryBase: base, RetryMax: most, MaxAttempts: 10, Logger: testLogger(t)})
	down := time.Now()
	runQueue(t, q, sendJobs(newSender(t, smtpURL)))
	const n = 5
	for i := range n {
		if err := q.Enqueue(t.Context(), "test", map[string]string{"to": "pat@example.com", "n": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Down long enough for every job to fail several times.
	s := waitStats(t, q, "every job failed at least twice", func(mail.Stats) bool { return c.get("failed") >= 2*n })
	if outage > 0 {
		time.Sleep(time.Until(down.Add(outage)))
		s, _ = q.Stats(t.Context())
	}
	t.Logf("SMTP down for %v: %d failed attempts so far, queue %v", time.Since(down).Round(time.Millisecond), c.get("failed"), s)
	if c.get("dead") != 0 || c.get("sent") != 0 {
		t.Fatalf("while down: outcomes %v", c.m)
	}
	srv := testenv.SMTP(t, port)
	back := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second+2*most)
	defer cancel()
	msgs, err := srv.Wait(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	waitStats(t, q, "empty", func(s mail.Stats) bool { return s == mail.Stats{} })
	seen := map[string]bool{}
	for _, m := range msgs {
		seen[strings.SplitN(m.Text, "\n", 2)[0]] = true
	}
	if len(seen) != n || c.get("dead") != 0 || c.get("sent") != n {
		t.Fatalf("after the outage: %d distinct messages of %d, outcomes %v", len(seen), len(msgs), c.m)
	}
	t.Logf("SMTP back: %d messages delivered within %v, %d distinct, outcomes %v", len(msgs), time.Since(back).Round(time.Millisecond), len(seen), c.m)
}

// TestQueueSMTPRefusing: a relay that answers but refuses (451) is
// retried just the same, and what it took after it recovered arrives.
func TestQueueSMTPRefusing(t *testing.T) {
	t.Parallel()
	redisURL, _ := testenv.Redis(t)
	srv := testenv.SMTP(t, 0)
	srv.Reject(true)
	var c counts
	q := mail.NewQueue(newPool(t, redisURL), mail.Options{Name: qname(t), Block: 100 * time.Millisecond, Observe: c.observe,
		RetryBase: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond, Logger: testLogger(t)})
	runQueue(t, q, sendJobs(newSender(t, srv.URL)))
	if err := q.Enqueue(t.Context(), "test", map[string]string{"to": "pat@example.com", "n": "1"}); err != nil {
		t.Fatal(err)
	}
	waitStats(t, q, "two failed attempts", func(mail.Stats) bool { return c.get("failed") >= 2 })
	srv.Reject(false)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := srv.Wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
}

func TestQueueDeadLetter(t *testing.T) {
	t.Parallel()
	redisURL, _ := testenv.Redis(t)
	var c counts
	logs := &testenv.LogBuffer{}
	q := mail.NewQueue(newPool(t, redisURL), mail.Options{Name: qname(t), Block: 100 * time.Millisecond, Observe: c.observe,
		RetryBase: 10 * time.Millisecond, MaxAttempts: 3, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	runQueue(t, q, func(_ context.Context, j mail.Job) error {
		switch j.Kind {
		case "temporary":
			return errors.New("relay down")
		case "permanent":
			return mail.Permanent(errors.New("550 no such user"))
		}
		return fmt.Errorf("drop: %w", mail.ErrDrop)
	})
	for _, kind := range []string{"temporary", "permanent", "drop"} {
		if err := q.Enqueue(t.Context(), kind, nil); err != nil {
			t.Fatal(err)
		}
	}
	s := waitStats(t, q, "two dead jobs", func(s mail.Stats) bool { return s.Dead == 2 && s.Stream == 0 && s.Retry == 0 })
	if c.get("failed") != 3+1 || c.get("dead") != 2 || c.get("dropped") != 1 {
		t.Errorf("got outcomes %v, want 4 failed attempts (3 + 1), 2 dead, 1 dropped; queue %v", c.m, s)
	}
	if !strings.Contains(logs.String(), "level=ERROR msg=\"mail queue: job moved to the dead-letter stream\"") {
		t.Errorf("no error logged for the dead jobs:\n%s", logs)
	}
}

// The killed consumer runs in a child process: this test binary, asked to
// run only TestKilledConsumerChild with the queue's Redis in the
// environment. It takes the job and hangs in the SMTP conversation (its
// server never greets), until the parent kills it with SIGKILL.
const (
	childRedisEnv = "GATEHOUSE_MAIL_CHILD_REDIS"
	childSMTPEnv  = "GATEHOUSE_MAIL_CHILD_SMTP"
	childQueueEnv = "GATEHOUSE_MAIL_CHILD_QUEUE"
)

func TestKilledConsumerChild(t *testing.T) {
	redisURL := os.Getenv(childRedisEnv)
	if redisURL == "" {
		t.Skip("only runs as the child of TestQueueKilledConsumer")
	}
	q := mail.NewQueue(newPool(t, redisURL), mail.Options{Name: os.Getenv(childQueueEnv), Consumer: "doomed", Block: 100 * time.Millisecond,
		SendTimeout: time.Minute, ClaimAfter: time.Hour})
	s, err := mail.NewSender(os.Getenv(childSMTPEnv), "noreply@gatehouse.test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	q.Run(context.Background(), sendJobs(s))
}

// TestQueueKilledConsumer: an instance takes a job and is killed (SIGKILL)
// in the middle of sending it. Another instance claims it (XAUTOCLAIM)
// once it has been idle for ClaimAfter, and sends it.
func TestQueueKilledConsumer(t *testing.T) {
	t.Parallel()
	redisURL, _ := testenv.Redis(t)
	pool := newPool(t, redisURL)
	// A server that accepts connections and never says a word: the
	// child's send hangs in the middle.
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()

	q0 := mail.NewQueue(pool, mail.Options{Name: qname(t)})
	if err := q0.Enqueue(t.Context(), "test", map[string]string{"to": "pat@example.com", "n": "42"}); err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestKilledConsumerChild$", "-test.count=1")
	child.Env = append(os.Environ(), childRedisEnv+"="+redisURL, childQueueEnv+"="+qname(t),
		childSMTPEnv+"=smtp://"+hole.Addr().String()+"?starttls=opportunistic")
	var out bytes.Buffer
	child.Stdout, child.Stderr = &out, &out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-accepted:
		defer c.Close()
	case <-time.After(20 * time.Second):
		_ = child.Process.Kill()
		_ = child.Wait()
		t.Fatalf("the child never connected to SMTP; its output:\n%s", out.String())
	}
	s, err := q0.Stats(t.Context())
	if err != nil || s.Pending != 1 {
		t.Fatalf("before the kill: got %v, %v; want one pending job", s, err)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	t.Logf("killed the consumer (pid %d) mid-send; queue %v", child.Process.Pid, s)

	srv := testenv.SMTP(t, 0)
	var c counts
	q := mail.NewQueue(pool, mail.Options{Name: qname(t), Consumer: "survivor", Block: 100 * time.Millisecond, ClaimAfter: 500 * time.Millisecond,
		Observe: c.observe, Logger: testLogger(t)})
	start := time.Now()
	runQueue(t, q, sendJobs(newSender(t, srv.URL)))
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	msgs, err := srv.Wait(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(msgs[0].Text, "job=42") {
		t.Errorf("got text %q, want the killed consumer's job", msgs[0].Text)
	}
	waitStats(t, q, "empty", func(s mail.Stats) bool { return s == mail.Stats{} })
	t.Logf("claimed and delivered by another consumer %v after the kill; outcomes %v", time.Since(start).Round(time.Millisecond), c.m)
}

// qname gives each test's queue its own keys, for tests that share a
// Redis (REDIS_URL).
func qname(t *testing.T) string { return "test:" + t.Name() }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}
