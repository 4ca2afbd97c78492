package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// balancer is a round-robin reverse proxy in front of app instances. Like a
// real load balancer, it polls each instance's /readyz and sends requests
// only to those that answer 200. It does not retry: a request sent to an
// instance that cannot take it fails, and is counted.
type balancer struct {
	backends []*backend
	next     atomic.Uint64
	mu       sync.Mutex
	errs     []string // what went wrong, for the test's report
}

// backend is one instance behind the balancer.
type backend struct {
	url    *url.URL
	proxy  *httputil.ReverseProxy
	ready  atomic.Bool
	served atomic.Int64
}

// readyPoll is how often the balancer asks each instance for /readyz: often
// enough for a quick test, rarely enough that an instance that closed
// without draining would still get requests.
const readyPoll = 200 * time.Millisecond

// newBalancer starts a balancer over the instances at bases on 127.0.0.1
// and its readiness poller; both stop when the test ends.
func newBalancer(t *testing.T, bases []string) (*balancer, *httptest.Server) {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	b := &balancer{}
	for _, base := range bases {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		be := &backend{url: u}
		be.proxy = &httputil.ReverseProxy{
			Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
			Transport: tr,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				b.fail(fmt.Sprintf("%s %s via %s: %v", r.Method, r.URL.Path, u.Host, err))
				w.WriteHeader(http.StatusBadGateway)
			},
		}
		b.backends = append(b.backends, be)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	poll := &http.Client{Timeout: 2 * time.Second, Transport: tr.Clone()}
	for _, be := range b.backends {
		wg.Go(func() {
			tick := time.NewTicker(readyPoll)
			defer tick.Stop()
			for {
				be.ready.Store(isReady(ctx, poll, be.url.String()+"/readyz"))
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		wg.Wait()
		tr.CloseIdleConnections()
		poll.CloseIdleConnections()
	})
	return b, srv
}

// isReady reports whether GET url answers 200.
func isReady(ctx context.Context, c *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := uint64(len(b.backends))
	first := b.next.Add(1)
	for i := range n {
		be := b.backends[(first+i)%n]
		if be.ready.Load() {
			be.served.Add(1)
			be.proxy.ServeHTTP(w, r)
			return
		}
	}
	b.fail(r.Method + " " + r.URL.Path + ": no instance ready")
	w.WriteHeader(http.StatusServiceUnavailable)
}

func (b *balancer) fail(msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, msg)
}

func (b *balancer) served() []int64 {
	var out []int64
	for _, be := range b.backends {
		out = append(out, be.served.Load())
	}
	return out
}

// load is the tally of the test's traffic.
type load struct {
	requests, logins, failures, lost atomic.Int64
	mu                               sync.Mutex
	firstFailures                    []string
}

func (l *load) fail(msg string, lost bool) {
	l.failures.Add(1)
	if lost {
		l.lost.Add(1)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.firstFailures) < 10 {
		l.firstFailures = append(l.firstFailures, msg)
	}
}

// TestRollingRestart runs three instances on one Redis and one FerretDB
// behind a balancer, drives steady signed-in traffic through it, and
// restarts the instances one at a time, as a deployment does: stop (what
// SIGTERM does), start again on the same port, wait until it is ready and
// serving, then the next. With SHUTDOWN_DRAIN, a stopping instance fails
// /readyz while it still serves, so the balancer moves away before the
// listener closes: not one request may fail and no session may be lost.
func TestRollingRestart(t *testing.T) {
	redisURL, _ := testenv.Redis(t)
	mongoURI, db := testenv.Mongo(t)
	const instances = 3
	envs := make([]map[string]string, instances)
	stops := make([]func() error, instances)
	bases := make([]string, instances)
	for i := range instances {
		envs[i] = prodEnv(redisURL, mongoURI, db)
		// Five polls of the balancer: it notices in time even on a
		// loaded machine.
		envs[i]["SHUTDOWN_DRAIN"] = "1s"
		envs[i]["LOG_LEVEL"] = "warn"
		// The four users' sign-ins may come at once, and with the race
		// detector on a loaded machine argon2id takes seconds: a 503
		// "busy" from the hashing queue is the flood's answer, not a
		// restart's (it failed CI once: 2 of 25 sign-ins). This test is
		// about restarts, so the queue may wait longer.
		envs[i]["LOGIN_QUEUE_TIMEOUT"] = "8s"
		bases[i], _, stops[i] = startRun(t, envs[i])
	}
	lb, front := newBalancer(t, bases)
	waitUntil(t, 10*time.Second, "every instance ready", func() bool {
		for _, be := range lb.backends {
			if !be.ready.Load() {
				return false
			}
		}
		return true
	})

	// Steady traffic: each user reads the dashboard in a loop and signs in
	// again every 25 requests, through the balancer only.
	const users = 4
	const maxRequests = 50000 // a bound, should the test overrun
	var tally load
	clients := make([]*client, users)
	for i := range users {
		clients[i] = newClient(t, front.URL)
		clients[i].signUp(t, fmt.Sprintf("user%d", i))
	}
	stopLoad := make(chan struct{})
	var workers sync.WaitGroup
	for i, c := range clients {
		name := fmt.Sprintf("user%d", i)
		cred := fmt.Sprintf(`{"username":%q,"password":"password-1"}`, name)
		workers.Go(func() {
			for k := 1; tally.requests.Load() < maxRequests; k++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				method, path, body := http.MethodGet, "/api/dashboard", ""
				if k%25 == 0 {
					method, path, body = http.MethodPost, "/auth/login", cred
					tally.logins.Add(1)
				}
				tally.requests.Add(1)
				r, err := c.do(method, path, body)
				switch {
				case err != nil:
					tally.fail(fmt.Sprintf("%s %s: %v", method, path, err), false)
				case r.status != http.StatusOK:
					tally.fail(fmt.Sprintf("%s %s: %d %.100s", method, path, r.status, r.body), r.status == http.StatusUnauthorized)
				case method == http.MethodGet && !strings.Contains(r.body, "Welcome "+name+`"`):
					tally.fail(fmt.Sprintf("%s %s: %.100s", method, path, r.body), true)
				}
				time.Sleep(2 * time.Millisecond) // pacing, to leave the instances some CPU
			}
		})
	}
	defer func() { // stop the load even if the test fails halfway
		select {
		case <-stopLoad:
		default:
			close(stopLoad)
		}
		workers.Wait()
	}()

	for i := range instances {
		before := tally.requests.Load()
		if err := stops[i](); err != nil {
			t.Fatalf("instance %d: run: %v", i, err)
		}
		bases[i], _, stops[i] = startRun(t, envs[i])
		servedAt := lb.backends[i].served.Load()
		waitUntil(t, 20*time.Second, fmt.Sprintf("instance %d serving again", i), func() bool {
			return lb.backends[i].served.Load() >= servedAt+20
		})
		if tally.requests.Load() == before {
			t.Fatalf("no traffic while instance %d restarted", i)
		}
	}
	close(stopLoad)
	workers.Wait()

	for i, c := range clients {
		c.wantSignedIn(t, fmt.Sprintf("user%d", i))
	}
	t.Logf("rolling restart of %d instances: %d requests (%d sign-ins), %d failed, %d sessions lost; per instance %v",
		instances, tally.requests.Load(), tally.logins.Load(), tally.failures.Load(), tally.lost.Load(), lb.served())
	if n := tally.failures.Load(); n > 0 {
		t.Errorf("%d requests failed (%d sessions lost); first: %q; balancer: %q", n, tally.lost.Load(), tally.firstFailures, lb.errs)
	}
}

// waitUntil polls cond until it holds, failing the test after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDrainFailsReadiness: once shutdown begins, and for SHUTDOWN_DRAIN,
// /readyz answers 503 "draining" naming the shutdown, while every other
// request is still served, with Connection: close so that clients do not
// reuse a connection about to go. Then the listener closes and run
// returns.
func TestDrainFailsReadiness(t *testing.T) {
	redisURL, _ := testenv.Redis(t)
	mongoURI, db := testenv.Mongo(t)
	env := prodEnv(redisURL, mongoURI, db)
	env["SHUTDOWN_DRAIN"] = "3s"
	base, out, stop := startRun(t, env)
	c := newClient(t, base)
	c.signUp(t, "sam")
	if r := c.must(t, http.MethodGet, "/readyz", "", http.StatusOK); r.close {
		t.Error("Connection: close before shutdown")
	}

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	waitUntil(t, 2*time.Second, "/readyz failing", func() bool {
		r, err := c.do(http.MethodGet, "/readyz", "")
		return err == nil && r.status == http.StatusServiceUnavailable
	})
	r := c.must(t, http.MethodGet, "/readyz", "", http.StatusServiceUnavailable)
	if failed := failedChecks(t, r); fmt.Sprint(failed) != "[shutdown]" || !strings.Contains(r.body, `"status":"draining"`) {
		t.Errorf("readyz while draining: %s, want status draining and failed [shutdown]", r.body)
	}
	r = c.must(t, http.MethodGet, "/api/dashboard", "", http.StatusOK)
	if !r.close {
		t.Error("while draining: no Connection: close")
	}
	c.must(t, http.MethodGet, "/healthz", "", http.StatusOK)
	select {
	case err := <-stopped:
		t.Fatalf("run returned during the drain: %v", err)
	default:
	}

	if err := <-stopped; err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := c.do(http.MethodGet, "/healthz", ""); err == nil {
		t.Error("the instance still answers after shutdown")
	}
	if logs := out.String(); !strings.Contains(logs, `"msg":"draining"`) {
		t.Errorf("no drain in the log:\n%s", logs)
	}
	noPanics(t, out)
}
