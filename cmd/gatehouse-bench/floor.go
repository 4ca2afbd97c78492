package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/gomodule/redigo/redis"
)

// floorCookie names the floor's token cookie.
const floorCookie = "token"

// floorServer is the floor Gatehouse is compared with: a bare net/http
// handler that looks the request's token up with one redigo GET on the same
// redis-server (a token-to-username key, as a minimal session store would)
// and answers with the name. Its pool is configured as the app's (64
// connections, waiting for a free one, 1 s timeouts). Like the app it runs
// in a process of its own (this binary with -serve-floor), so that neither
// shares the load generator's process.
type floorServer struct {
	srv   *http.Server
	pool  *redis.Pool
	cmd   *exec.Cmd // the floor process, in the bench process
	base  string    // http://127.0.0.1:PORT
	token string    // a token whose key exists
}

// startFloor starts the floor in a child process and waits for its address.
func startFloor(redisURL string) (*floorServer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-serve-floor", redisURL)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	f := &floorServer{cmd: cmd}
	line, err := bufio.NewReader(out).ReadString('\n')
	if _, serr := fmt.Sscan(line, &f.base, &f.token); err != nil || serr != nil {
		f.close()
		return nil, fmt.Errorf("floor did not start: %q %v %v", line, err, serr)
	}
	return f, nil
}

// serveFloor is the floor process: it prints "BASE TOKEN" and serves until
// ctx ends.
func serveFloor(ctx context.Context, redisURL string, stdout io.Writer) error {
	f, err := listenFloor(redisURL)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, f.base, f.token)
	<-ctx.Done()
	f.close()
	return nil
}

func listenFloor(redisURL string) (*floorServer, error) {
	const timeout = time.Second
	pool := &redis.Pool{
		MaxIdle: 64, MaxActive: 64, Wait: true, IdleTimeout: 5 * time.Minute,
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			return redis.DialURLContext(ctx, redisURL, redis.DialConnectTimeout(timeout),
				redis.DialReadTimeout(timeout), redis.DialWriteTimeout(timeout))
		},
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	c := pool.Get()
	_, err = c.Do("SET", bareKey(token), "bench")
	c.Close()
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("floor: %w", err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(floorCookie)
		if err != nil {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		c, err := pool.GetContext(ctx)
		if err != nil {
			http.Error(w, "redis", http.StatusServiceUnavailable)
			return
		}
		name, err := redis.Bytes(redis.DoContext(c, ctx, "GET", bareKey(ck.Value)))
		c.Close()
		switch {
		case errors.Is(err, redis.ErrNil):
			http.Error(w, "unknown token", http.StatusUnauthorized)
			return
		case err != nil:
			http.Error(w, "redis", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(append([]byte("Hello, "), name...))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		pool.Close()
		return nil, err
	}
	f := &floorServer{
		srv:   &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute},
		pool:  pool,
		base:  "http://" + ln.Addr().String(),
		token: token,
	}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

func (f *floorServer) close() {
	if f.cmd != nil {
		_ = f.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = f.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = f.cmd.Process.Kill()
			<-done
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = f.srv.Shutdown(ctx)
	_ = f.pool.Close()
}

// bareKey is where a minimal store keeps token's username: the same prefix
// and key length as scs's (43 characters), for a fair memory comparison.
func bareKey(token string) string { return "scs:session:" + token }

// newToken returns 32 random bytes in unpadded base64url, like an scs token.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
