package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
)

// A credential-stuffing run must not slow every signed-in person's pages:
// argon2id takes whole cores, and the flood's refusals cost work too. The
// starvation scenario measures page views (GET /api/dashboard on
// starveConns connections) quiet, then while s.flood connections post
// logins without pause, in turn, round after round, and compares the p99s.

const (
	keyStarvation = "page_views_under_login_flood"
	starveConns   = 16  // page-view connections, as wrk's in issue 15
	targetStarve  = 2.0 // p99 under the flood over the quiet p99, at most
)

// starvationResult compares page views quiet and under a login flood: the
// medians over the rounds of each phase's p99 and req/s, and the median
// of each round's ratio.
type starvationResult struct {
	Conns       int     `json:"page_view_connections"`
	FloodLogins int     `json:"flood_connections"`
	QuietP99ms  float64 `json:"quiet_p99_ms"`
	FloodP99ms  float64 `json:"flood_p99_ms"`
	QuietRPS    float64 `json:"quiet_requests_per_second"`
	FloodRPS    float64 `json:"flood_requests_per_second"`
	Ratio       float64 `json:"p99_ratio"`
	Target      float64 `json:"p99_ratio_target"`
	Met         bool    `json:"p99_target_met"`
	// Rounds are each round's quiet and flood page views.
	Rounds []starvationRound `json:"rounds"`
	// Logins counts the flood's responses by status over every round
	// ("error": a transport error).
	Logins map[string]int `json:"flood_logins_by_status"`
	// LoginP99ms is the p99 of the flood's logins that got a 200.
	LoginP99ms float64 `json:"flood_login_ok_p99_ms"`
}

type starvationRound struct {
	Quiet stats   `json:"quiet"`
	Flood stats   `json:"flood"`
	Ratio float64 `json:"p99_ratio"`
}

// measureStarvation runs rounds of quiet page views, then page views under
// the flood. Each phase has a warm-up: under the flood it lets the
// flood's connections open and the hashing queue fill first.
func measureStarvation(ctx context.Context, s settings, pageURL, cookie string, postLogin func(context.Context) (*http.Request, error), progress func(string, ...any)) (*starvationResult, error) {
	r := &starvationResult{Conns: starveConns, FloodLogins: s.flood, Target: targetStarve, Logins: map[string]int{}}
	var ratios, quietP99, floodP99, quietRPS, floodRPS []float64
	var loginOK []time.Duration
	pages := func() (stats, error) {
		getter, err := newRawGetter(pageURL, cookie)
		if err != nil {
			return stats{}, err
		}
		o := load{conns: starveConns, warmup: s.warmup, duration: s.duration, newWorker: rawWorkers(getter)}.run(ctx)
		if err := ctx.Err(); err != nil {
			return stats{}, err
		}
		if bad := o.total - len(o.byStatus[http.StatusOK]); len(o.byStatus) > 1 {
			progress("page views: %d of the window's responses were not 200: %s", bad, statusCounts(o))
		}
		return summarise(o.byStatus[http.StatusOK], o.window), nil
	}
	for round := range s.starveRounds {
		progress("page views quiet, round %d of %d: %d connections, %s warm-up + %s", round+1, s.starveRounds, starveConns,
			config.FormatDuration(s.warmup), config.FormatDuration(s.duration))
		quiet, err := pages()
		if err != nil {
			return nil, err
		}
		progress("page views under a flood of %d logins, round %d of %d", s.flood, round+1, s.starveRounds)
		stop := sustainedFlood(ctx, s.flood, postLogin)
		flooded, err := pages()
		logins := stop()
		if err != nil {
			return nil, err
		}
		for status, lat := range logins.byStatus {
			key := fmt.Sprint(status)
			if status == 0 {
				key = "error"
			}
			r.Logins[key] += len(lat)
		}
		loginOK = append(loginOK, logins.byStatus[http.StatusOK]...)
		rd := starvationRound{Quiet: quiet, Flood: flooded}
		if quiet.P99ms > 0 {
			rd.Ratio = flooded.P99ms / quiet.P99ms
		}
		r.Rounds = append(r.Rounds, rd)
		ratios = append(ratios, rd.Ratio)
		quietP99, floodP99 = append(quietP99, quiet.P99ms), append(floodP99, flooded.P99ms)
		quietRPS, floodRPS = append(quietRPS, quiet.RPS), append(floodRPS, flooded.RPS)
	}
	r.Ratio, r.QuietP99ms, r.FloodP99ms = median(ratios), median(quietP99), median(floodP99)
	r.QuietRPS, r.FloodRPS = median(quietRPS), median(floodRPS)
	r.Met = r.Ratio > 0 && r.Ratio <= r.Target
	if len(loginOK) > 0 {
		slices.Sort(loginOK)
		r.LoginP99ms = ms(quantile(loginOK, 0.99))
	}
	return r, nil
}

// sustainedFlood starts n workers that each post a login, on a connection
// of its own, again and again until stop is called; stop waits for them
// and returns every response they got.
func sustainedFlood(ctx context.Context, n int, newRequest func(context.Context) (*http.Request, error)) (stop func() outcome) {
	ctx, cancel := context.WithCancel(ctx)
	client := newClient(n)
	samples := make([][]sample, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				sm := send(ctx, client, newRequest)
				if ctx.Err() != nil {
					break // cut short by stop: not a response
				}
				sm.latency = time.Since(t0)
				samples[i] = append(samples[i], sm)
			}
		})
	}
	return func() outcome {
		cancel()
		wg.Wait()
		client.CloseIdleConnections()
		o := outcome{byStatus: map[int][]time.Duration{}, window: time.Since(start)}
		for _, buf := range samples {
			for _, sm := range buf {
				o.byStatus[sm.status] = append(o.byStatus[sm.status], sm.latency)
				o.total++
			}
		}
		return o
	}
}

// statusCounts formats an outcome's responses by status, e.g. "200: 9, 503: 1".
func statusCounts(o outcome) string {
	var parts []string
	for _, st := range slices.Sorted(func(yield func(int) bool) {
		for k := range o.byStatus {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, fmt.Sprintf("%d: %d", st, len(o.byStatus[st])))
	}
	return fmt.Sprint(parts)
}

// format writes the comparison.
func (r *starvationResult) format(w io.Writer) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "\nPage views under a login flood (GET /api/dashboard on %d connections; %d connections posting logins without pause; target p99 <= %.0fx quiet: %s):\n",
		r.Conns, r.FloodLogins, r.Target, met(r.Met))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\treq/s\tp50 ms\tp99 ms\tvs quiet\t")
	for i, rd := range r.Rounds {
		fmt.Fprintf(tw, "round %d quiet\t%.0f\t%.2f\t%.2f\t\n", i+1, rd.Quiet.RPS, rd.Quiet.P50ms, rd.Quiet.P99ms)
		fmt.Fprintf(tw, "round %d flood\t%.0f\t%.2f\t%.2f\t%.2fx\t\n", i+1, rd.Flood.RPS, rd.Flood.P50ms, rd.Flood.P99ms, rd.Ratio)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "  medians: p99 quiet %.2f ms, under the flood %.2f ms: %.2fx; req/s quiet %.0f, under the flood %.0f\n",
		r.QuietP99ms, r.FloodP99ms, r.Ratio, r.QuietRPS, r.FloodRPS)
	fmt.Fprintf(w, "  the flood's logins: %v; p99 of those that succeeded %.0f ms\n", r.Logins, r.LoginP99ms)
}
