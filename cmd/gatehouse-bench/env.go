package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/embedded"
)

const (
	appReadyTimeout = 20 * time.Second // from exec to /healthz answering
	appStopTimeout  = 10 * time.Second // SIGTERM to SIGKILL
	buildTimeout    = 2 * time.Minute
)

// env is everything the bench started: a private redis-server, an embedded
// FerretDB, the app as a child process, and the floor server.
type env struct {
	redis *embedded.Redis
	mongo *embedded.Mongo
	app   *appProcess
	floor *floorServer
}

// stop stops what was started, in reverse order. It is safe on a partly
// started env.
func (e *env) stop(progress func(string, ...any)) {
	if e.floor != nil {
		e.floor.close()
	}
	if e.app != nil {
		if err := e.app.stop(); err != nil {
			progress("stop app: %v", err)
		}
	}
	if e.mongo != nil {
		if err := e.mongo.Stop(); err != nil {
			progress("stop FerretDB: %v", err)
		}
	}
	if e.redis != nil {
		if err := e.redis.Stop(); err != nil {
			progress("stop redis-server: %v", err)
		}
	}
}

func startEnv(ctx context.Context, s settings, dir string, logger *slog.Logger, progress func(string, ...any)) (*env, error) {
	e := &env{}
	bin := s.appBin
	if bin == "" {
		bin = filepath.Join(dir, "gatehouse")
		progress("building ./cmd/gatehouse (production, no tags)")
		if err := buildApp(ctx, bin); err != nil {
			return e, err
		}
	}
	var err error
	e.redis, err = embedded.StartRedisServer(ctx, filepath.Join(dir, "redis"), 0, logger, "--appendonly", "no")
	if err != nil {
		return e, err
	}
	e.mongo, err = embedded.StartMongo(ctx, filepath.Join(dir, "ferretdb"), 0, logger)
	if err != nil {
		return e, err
	}
	e.app, err = startApp(ctx, bin, dir, e.redis.URL, e.mongo.URI, s.appEnv)
	if err != nil {
		return e, err
	}
	progress("app pid %d on %s (redis %s, FerretDB %s)", e.app.pid(), e.app.base, e.redis.URL, e.mongo.URI)
	e.floor, err = startFloor(e.redis.URL)
	if err != nil {
		return e, err
	}
	return e, nil
}

// buildApp builds the production binary as `go build` does without tags.
func buildApp(ctx context.Context, out string) error {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/gatehouse")
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/gatehouse (run from the module root): %w\n%s", err, stderr.String())
	}
	return nil
}

// appProcess is the app running as a child process.
type appProcess struct {
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:PORT
	logPath string
	done    chan struct{} // closed when the child has exited and been reaped
	waitErr error
}

func (a *appProcess) pid() int { return a.cmd.Process.Pid }

// appEnv is the app's whole environment: production mode, the private
// servers, logging at warn so that the per-request access log (info) is off,
// and login limits high enough that the bench is never throttled.
func appEnv(port int, redisURL, mongoURI, dataDir string) []string {
	return []string{
		"APP_ENV=production",
		"MAIL_ENABLED=false", // the bench measures sign-in and page views, not mail
		"HOST=127.0.0.1",
		"PORT=" + strconv.Itoa(port),
		"REDIS_URL=" + redisURL,
		"MONGO_URI=" + mongoURI,
		"MONGO_DB=gatehouse_bench",
		"COOKIE_SECURE=false",
		"LOG_LEVEL=warn",
		"LOGIN_MAX_FAILURES_IP=100000",
		"LOGIN_MAX_FAILURES_ACCOUNT=1000",
		"TOKEN_GUESS_LIMIT=1000000",
		"DATA_DIR=" + dataDir,
		"PATH=" + os.Getenv("PATH"),
	}
}

// startApp starts the app on a free port, with extra (KEY=VALUE) after
// appEnv's settings, so that they win.
func startApp(ctx context.Context, bin, dir, redisURL, mongoURI string, extra []string) (*appProcess, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "app.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own copy
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(appEnv(port, redisURL, mongoURI, filepath.Join(dir, "appdata")), extra...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Its own process group, so that Ctrl-C reaches only the bench, which
	// then stops the app in order; and killed if the bench dies.
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start app: %w", err)
	}
	a := &appProcess{cmd: cmd, base: "http://127.0.0.1:" + strconv.Itoa(port), logPath: logPath, done: make(chan struct{})}
	go func() {
		a.waitErr = cmd.Wait()
		close(a.done)
	}()
	if err := a.waitReady(ctx); err != nil {
		_ = a.stop()
		return nil, fmt.Errorf("%w\n%s:\n%s", err, logPath, tail(logPath, 20))
	}
	return a, nil
}

// waitReady polls /healthz until it answers 200, the app exits, or the
// time is up.
func (a *appProcess) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, appReadyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/healthz", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-a.done:
			return fmt.Errorf("app exited before it was ready: %v", a.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("app not ready on %s: %w (last error: %v)", a.base, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM, waits for a graceful shutdown, then kills.
func (a *appProcess) stop() error {
	select {
	case <-a.done:
		return nil
	default:
	}
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = a.cmd.Process.Kill()
	}
	select {
	case <-a.done:
		return nil
	case <-time.After(appStopTimeout):
	}
	_ = a.cmd.Process.Kill()
	<-a.done
	return fmt.Errorf("app (pid %d) did not stop within %s of SIGTERM; killed it", a.pid(), appStopTimeout)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
