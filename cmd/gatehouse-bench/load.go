package main

import (
	"context"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"
)

// newClient returns an HTTP client that keeps up to conns connections alive
// to one host and follows no redirects.
func newClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// load is one load scenario: conns workers, each sending requests one after
// another on its own keep-alive connection, for warmup (not measured) and
// then duration.
type load struct {
	conns            int
	warmup, duration time.Duration
	// newWorker returns one worker's client: it sends a request and reads
	// the whole response. close releases its connection.
	newWorker func() (do func(context.Context) sample, close func())
}

// rawWorkers sends the same GET from every worker, each with a raw
// keep-alive connection of its own (rawhttp.go).
func rawWorkers(g *rawGetter) func() (func(context.Context) sample, func()) {
	return func() (func(context.Context) sample, func()) {
		w := g.clone()
		return w.do, w.close
	}
}

// clientWorkers sends newRequest's requests from every worker through one
// shared net/http client.
func clientWorkers(client *http.Client, newRequest func(ctx context.Context) (*http.Request, error)) func() (func(context.Context) sample, func()) {
	return func() (func(context.Context) sample, func()) {
		return func(ctx context.Context) sample { return send(ctx, client, newRequest) }, func() {}
	}
}

// outcome is what one scenario measured.
type outcome struct {
	// Requests that started within the measured window, by status (0: a
	// transport error), with their latencies.
	byStatus  map[int][]time.Duration
	setCookie int // responses in the window that carried Set-Cookie
	window    time.Duration
	// total counts every request sent, warm-up included, for Redis
	// commands per request.
	total int
}

type sample struct {
	status    int
	latency   time.Duration
	setCookie bool
}

// run drives the load and returns when every worker has finished its last
// request. Requests that start after the window are not sent; one in flight
// when the window closes completes and counts.
func (l load) run(ctx context.Context) outcome {
	start := time.Now()
	from := start.Add(l.warmup)
	until := from.Add(l.duration)
	samples := make([][]sample, l.conns)
	totals := make([]int, l.conns)
	var wg sync.WaitGroup
	for i := range l.conns {
		wg.Go(func() {
			do, closeConn := l.newWorker()
			defer closeConn()
			buf := make([]sample, 0, 1<<14)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(until) {
					break
				}
				s := do(ctx)
				s.latency = time.Since(t0)
				totals[i]++
				if !t0.Before(from) {
					buf = append(buf, s)
				}
			}
			samples[i] = buf
		})
	}
	wg.Wait()
	o := outcome{byStatus: map[int][]time.Duration{}, window: l.duration}
	for i, buf := range samples {
		o.total += totals[i]
		for _, s := range buf {
			o.byStatus[s.status] = append(o.byStatus[s.status], s.latency)
			if s.setCookie {
				o.setCookie++
			}
		}
	}
	return o
}

// send sends one request through client and reads the whole response.
func send(ctx context.Context, client *http.Client, newRequest func(ctx context.Context) (*http.Request, error)) sample {
	req, err := newRequest(ctx)
	if err != nil {
		return sample{}
	}
	resp, err := client.Do(req)
	if err != nil {
		return sample{}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return sample{}
	}
	return sample{status: resp.StatusCode, setCookie: len(resp.Header.Values("Set-Cookie")) > 0}
}

// flood sends n requests at once, each on its own connection, and returns
// their outcome.
func flood(ctx context.Context, n int, newRequest func(ctx context.Context) (*http.Request, error)) outcome {
	client := newClient(n)
	defer client.CloseIdleConnections()
	samples := make([]sample, n)
	startGun := make(chan struct{})
	var ready, done sync.WaitGroup
	ready.Add(n)
	for i := range n {
		done.Go(func() {
			ready.Done()
			<-startGun
			t0 := time.Now()
			samples[i] = send(ctx, client, newRequest)
			samples[i].latency = time.Since(t0)
		})
	}
	ready.Wait()
	start := time.Now()
	close(startGun)
	done.Wait()
	o := outcome{byStatus: map[int][]time.Duration{}, window: time.Since(start), total: n}
	for _, s := range samples {
		o.byStatus[s.status] = append(o.byStatus[s.status], s.latency)
	}
	return o
}

// stats summarises latencies.
type stats struct {
	Count int     `json:"count"`
	RPS   float64 `json:"requests_per_second"`
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func summarise(lat []time.Duration, window time.Duration) stats {
	s := stats{Count: len(lat)}
	if len(lat) == 0 {
		return s
	}
	lat = slices.Clone(lat)
	slices.Sort(lat)
	s.RPS = float64(len(lat)) / window.Seconds()
	s.P50ms = ms(quantile(lat, 0.50))
	s.P99ms = ms(quantile(lat, 0.99))
	s.MaxMs = ms(lat[len(lat)-1])
	return s
}

// quantile returns the q-quantile of sorted (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(float64(len(sorted))*q)) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
