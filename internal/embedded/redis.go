package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gomodule/redigo/redis"
)

const (
	// redisReadyTimeout bounds how long StartRedisServer waits for the
	// child to answer.
	redisReadyTimeout = 10 * time.Second
	// redisStopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	redisStopTimeout = 5 * time.Second
	// redisPortAttempts is how often a start on a picked port is tried when
	// another process takes the port first.
	redisPortAttempts = 3
	// redisLogName is the file in the data folder that receives the child's
	// stdout and stderr.
	redisLogName = "redis-server.log"
)

// errAddrInUse marks a start that failed because the port was taken.
var errAddrInUse = errors.New("address already in use")

// Redis is a running Redis-protocol server: a redis-server child process or,
// when redis-server is missing, an in-memory miniredis.
type Redis struct {
	// URL is the server's address with database 0, e.g.
	// redis://127.0.0.1:6379/0, as the app's REDIS_URL expects it.
	URL string
	// Addr is the server's host:port.
	Addr string
	// Persistent is true for redis-server, which keeps its files in the
	// data folder, and false for the in-memory fallback, which loses
	// everything on Stop.
	Persistent bool

	proc        *process             // redis-server, or nil
	mini        *miniredis.Miniredis // the fallback, or nil
	stopTimeout time.Duration        // SIGTERM to SIGKILL
	stopOnce    sync.Once
	stopErr     error
}

// Stop stops the server and waits until it is gone. A redis-server child gets
// SIGTERM, so that it flushes its append-only file, and SIGKILL when it has
// not exited after five seconds; Stop then reports an error. A child that has
// already exited by itself (say, killed by a failover test) is not an error.
// Stop is idempotent and safe on a nil *Redis.
func (r *Redis) Stop() error {
	if r == nil {
		return nil
	}
	r.stopOnce.Do(func() {
		switch {
		case r.mini != nil:
			r.mini.Close()
		case r.proc != nil:
			r.stopErr = r.proc.stop(r.stopTimeout)
		}
	})
	return r.stopErr
}

// Pid returns the process id of the redis-server child, or 0 for the
// in-memory fallback.
func (r *Redis) Pid() int {
	if r == nil || r.proc == nil {
		return 0
	}
	return r.proc.cmd.Process.Pid
}

// Signal sends sig to the redis-server child, for tests that pause it
// (SIGSTOP, then SIGCONT) to play a hung server. A paused server does not
// act on Stop's SIGTERM: continue it first, or Stop kills it and says so.
// It fails for the in-memory fallback.
func (r *Redis) Signal(sig os.Signal) error {
	if r == nil || r.proc == nil {
		return errors.New("redis: not a redis-server child")
	}
	return r.proc.cmd.Process.Signal(sig)
}

// Kill kills the redis-server child at once (SIGKILL), as a crash would,
// and returns once it is gone, for failover tests. A later Stop returns
// nil. It fails for the in-memory fallback.
func (r *Redis) Kill() error {
	if r == nil || r.proc == nil {
		return errors.New("redis: not a redis-server child")
	}
	if err := r.proc.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-r.proc.done
	return nil
}

// StartRedis starts redis-server from PATH as a child process on a free
// 127.0.0.1 port, with append-only persistence (fsync every second) and its
// files under dir (created if missing), and waits until it answers PING, for
// at most ten seconds. The URL is redis://127.0.0.1:PORT/0 and Persistent is
// true.
//
// If redis-server is not on PATH, StartRedis starts an in-memory miniredis on
// 127.0.0.1 instead (Persistent false). Its keys expire by the wall clock,
// like Redis's, but everything is lost on Stop.
//
// ctx bounds the start only: cancelling it later does not stop the server;
// call Stop. A nil logger means slog.Default().
func StartRedis(ctx context.Context, dir string, logger *slog.Logger) (*Redis, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("start miniredis: %w", err)
		}
		m := miniredis.NewMiniRedis()
		m.ClockTTL(true) // expire keys by the clock, as Redis does
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("start miniredis: %w", err)
		}
		r := &Redis{URL: "redis://" + m.Addr() + "/0", Addr: m.Addr(), mini: m}
		logger.Warn("redis-server not on PATH; using in-memory miniredis, data is lost on exit",
			slog.String("url", r.URL))
		return r, nil
	}
	return StartRedisServer(ctx, dir, 0, logger)
}

// StartRedisServer is StartRedis without the fallback: it fails, with an
// error that wraps exec.ErrNotFound, when redis-server is not on PATH. port 0
// picks a free port. extraArgs are appended to the command line
//
//	redis-server --bind 127.0.0.1 --port P --dir DIR --daemonize no --save "" \
//	    --appendonly yes --appendfsync everysec --protected-mode yes
//
// and override its defaults, e.g. "--appendonly", "no". They may not set
// bind, port, dir or daemonize, which the returned URL and Stop rely on.
// With "--requirepass", "PW" the URL carries the password.
//
// The child's output goes to redis-server.log in dir. The child runs in its
// own process group, so a Ctrl-C in the terminal reaches only the parent,
// which can then shut down in order and call Stop.
func StartRedisServer(ctx context.Context, dir string, port int, logger *slog.Logger, extraArgs ...string) (*Redis, error) {
	if logger == nil {
		logger = slog.Default()
	}
	password, err := checkRedisArgs(extraArgs)
	if err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	return launch(ctx, "redis-server", dir, port, password, logger, func(dir string, p int) ([]string, error) {
		args := []string{
			"--bind", "127.0.0.1",
			"--port", strconv.Itoa(p),
			"--dir", dir,
			"--daemonize", "no",
			"--save", "",
			"--appendonly", "yes",
			"--appendfsync", "everysec",
			"--protected-mode", "yes",
		}
		return append(args, extraArgs...), nil
	})
}

// launch starts a redis-server child named what (for messages) in dir, on
// port or, for 0, on a free port picked again while another process takes
// it first. args gives the command line for the folder and port.
func launch(ctx context.Context, what, dir string, port int, password string, logger *slog.Logger,
	args func(dir string, port int) ([]string, error)) (*Redis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("start %s: %w (on Debian: apt-get install -y redis-server)", what, err)
	}
	if err := checkPort(port); err != nil {
		return nil, fmt.Errorf("start %s: %w", what, err)
	}
	dir, err = prepareDir(dir)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", what, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start %s: %w", what, err)
	}
	attempts := 1
	if port == 0 {
		// Another process can take the picked port before the child
		// binds it; pick again.
		attempts = redisPortAttempts
	}
	for attempt := 1; ; attempt++ {
		p := port
		if p == 0 {
			if p, err = freePort(); err != nil {
				return nil, fmt.Errorf("start %s: %w", what, err)
			}
		}
		a, err := args(dir, p)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", what, err)
		}
		r, err := startChild(ctx, bin, dir, p, password, a)
		if err == nil {
			logger.Info(what+" started", slog.String("url", r.redactedURL()),
				slog.Int("pid", r.proc.cmd.Process.Pid), slog.String("dir", dir))
			return r, nil
		}
		if attempt >= attempts || !errors.Is(err, errAddrInUse) {
			return nil, err
		}
		logger.Debug(what+" port taken, picking another", slog.Int("port", p))
	}
}

// checkRedisArgs rejects options that would break the URL or Stop and
// returns the value of --requirepass, if any.
func checkRedisArgs(args []string) (password string, err error) {
	for i, a := range args {
		switch strings.ToLower(a) {
		case "--bind", "--port", "--dir", "--daemonize":
			return "", fmt.Errorf("option %s is set by StartRedisServer", a)
		case "--requirepass":
			if i+1 < len(args) {
				password = args[i+1]
			}
		}
	}
	return password, nil
}

// startChild makes one attempt to start redis-server with args, which make
// it listen on 127.0.0.1:port, and waits until it answers there.
func startChild(ctx context.Context, bin, dir string, port int, password string, args []string) (*Redis, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logPath := filepath.Join(dir, redisLogName)
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	logStart, err := logFile.Seek(0, io.SeekEnd)
	if err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start redis-server: %w", err)
	}

	// Not exec.CommandContext: the caller's context must not kill the
	// server behind its back; Stop does.
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	_ = logFile.Close() // the child has its own copy
	if err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()

	r := &Redis{
		URL:         redisURL(addr, password),
		Addr:        addr,
		Persistent:  true,
		proc:        p,
		stopTimeout: redisStopTimeout,
	}
	if err := waitRedis(ctx, addr, password, p); err != nil {
		_ = r.Stop()
		out := readFrom(logPath, logStart)
		if bytes.Contains(out, []byte("Address already in use")) {
			err = fmt.Errorf("%w: %w", errAddrInUse, err)
		}
		return nil, fmt.Errorf("start redis-server on %s: %w\n%s:\n%s", addr, err, logPath, lastLines(out, 10))
	}
	return r, nil
}

// redisURL returns the redis:// URL for addr, database 0.
func redisURL(addr, password string) string {
	u := url.URL{Scheme: "redis", Host: addr, Path: "/0"}
	if password != "" {
		u.User = url.UserPassword("", password)
	}
	return u.String()
}

// redactedURL is URL without its password, for logs.
func (r *Redis) redactedURL() string {
	u, err := url.Parse(r.URL)
	if err != nil {
		return ""
	}
	return u.Redacted()
}

// waitRedis polls addr until the redis-server child p answers, p exits, ctx
// ends, or redisReadyTimeout passes.
func waitRedis(ctx context.Context, addr, password string, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, redisReadyTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	exited := func() error { return fmt.Errorf("redis-server exited before it was ready: %v", p.err) }
	for {
		// Checked first: select below picks at random among ready cases.
		select {
		case <-p.done:
			return exited()
		default:
		}
		err := probeRedis(ctx, addr, password, p.cmd.Process.Pid)
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return exited()
		case <-ctx.Done():
			return fmt.Errorf("redis-server not ready: %w (last error: %v)", context.Cause(ctx), err)
		case <-tick.C:
		}
	}
}

// probeRedis checks that the server on addr answers PING, is the process
// with the given pid (not another server that holds the port) and has
// finished loading its data.
func probeRedis(ctx context.Context, addr, password string, pid int) error {
	c, err := redis.DialContext(ctx, "tcp", addr,
		redis.DialPassword(password),
		redis.DialConnectTimeout(time.Second),
		// Short, so that a port held by a listener that never answers
		// does not hide for long that the child has exited.
		redis.DialReadTimeout(500*time.Millisecond),
		redis.DialWriteTimeout(500*time.Millisecond),
	)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Do("PING"); err != nil {
		return err
	}
	info, err := redis.String(c.Do("INFO"))
	if err != nil {
		return err
	}
	fields := parseInfo(info)
	if got := fields["process_id"]; got != strconv.Itoa(pid) {
		return fmt.Errorf("%s is served by process %s, not by the child %d", addr, got, pid)
	}
	// A sentinel has no data and no such field.
	if v, ok := fields["loading"]; ok && v != "0" {
		return errors.New("still loading its data")
	}
	return nil
}

// parseInfo turns the text of INFO into its key:value fields.
func parseInfo(info string) map[string]string {
	fields := make(map[string]string)
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && !strings.HasPrefix(k, "#") {
			fields[k] = v
		}
	}
	return fields
}

// readFrom returns the content of the file at path from offset on.
func readFrom(path string, offset int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, _ := io.ReadAll(io.NewSectionReader(f, offset, 1<<20))
	return b
}

// lastLines returns the last n lines of out.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// process is a started child process that a goroutine waits for.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the child has exited and been reaped
	err  error         // cmd.Wait's result; read it after done is closed
}

// stop sends SIGTERM, waits up to timeout, then sends SIGKILL, and returns
// once the child has been reaped.
func (p *process) stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return nil // it exited by itself
	default:
	}
	pid := p.cmd.Process.Pid
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			<-p.done
			return nil
		}
		// No SIGTERM on this platform (Windows): kill it.
		_ = p.cmd.Process.Kill()
		<-p.done
		return nil
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("redis-server (pid %d) on SIGTERM: %w", pid, p.err)
		}
		return nil
	case <-t.C:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("redis-server (pid %d) did not exit within %s of SIGTERM; killed it", pid, timeout)
}
