package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
)

// The bench's accounts: the one whose session the page views use, and the
// one the starvation scenario's flood signs in (both with benchPassword).
const (
	benchUser     = "bench"
	floodUser     = "flood"
	benchPassword = "correct horse battery staple 1"
)

// Targets from issue 7, "Figures to reach".
const (
	targetThroughput = 0.8 // Gatehouse /dashboard req/s over the floor's, at least
	targetP99        = 1.5 // Gatehouse /dashboard p99 over the floor's, at most
)

// measure runs every scenario against the started env.
func measure(ctx context.Context, s settings, e *env, progress func(string, ...any)) (*results, error) {
	probe, err := dialProbe(ctx, e.redis.URL)
	if err != nil {
		return nil, err
	}
	defer probe.close()
	app := e.app.base
	pid := e.app.pid()

	res := &results{
		Settings: runSettings{
			Conns: s.conns, WarmupS: s.warmup.Seconds(), DurationS: s.duration.Seconds(),
			LoginDurationS: s.loginDuration.Seconds(), Flood: s.flood, Rounds: s.rounds,
			CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Started: time.Now().UTC().Format(time.RFC3339),
			LoadAverage: loadAverage(),
		},
	}

	progress("registering and signing in %q", benchUser)
	cookie, err := signIn(ctx, app)
	if err != nil {
		return nil, err
	}
	res.RSS.AfterLoginMiB = readRSS(pid, false)

	loginBody, _ := json.Marshal(map[string]string{"username": benchUser, "password": benchPassword})
	postLogin := func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, app+"/auth/login", bytes.NewReader(loginBody))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, err
	}

	floorCookieHeader := (&http.Cookie{Name: floorCookie, Value: e.floor.token}).String()
	gets := []struct {
		key, name, url, cookie string
		pid                    int
	}{
		{keyDashboard, "GET /dashboard (HTML)", app + "/dashboard", cookie.String(), pid},
		{keyAPI, "GET /api/dashboard (JSON)", app + "/api/dashboard", cookie.String(), pid},
		{keyFloor, "floor: net/http + 1 redigo GET", e.floor.base + "/", floorCookieHeader, e.floor.cmd.Process.Pid},
	}
	// newPhase starts a phase of the app's peak RSS.
	newPhase := func() {
		if err := resetPeak(pid); err != nil {
			progress("cannot reset the app's peak RSS; each peak includes the phases before it: %v", err)
		}
	}
	// counted runs f and returns the Redis commands sent meanwhile.
	counted := func(f func() outcome) (outcome, commandDelta, error) {
		before, err := probe.calls()
		if err != nil {
			return outcome{}, nil, err
		}
		o := f()
		if err := ctx.Err(); err != nil {
			return outcome{}, nil, err
		}
		after, err := probe.calls()
		if err != nil {
			return outcome{}, nil, err
		}
		return o, delta(before, after), nil
	}
	// sustained runs one load scenario against the server with serverPid
	// and adds what it measured to sum.
	sustained := func(sum *runningScenario, name string, serverPid int, d time.Duration, workers func() (func(context.Context) sample, func())) error {
		progress("%s: %d connections, %s warm-up + %s", name, s.conns, config.FormatDuration(s.warmup), config.FormatDuration(d))
		pids := []int{serverPid, e.redis.Pid(), 0}
		before := cpuTimes(pids)
		o, cmds, err := counted(func() outcome {
			return load{conns: s.conns, warmup: s.warmup, duration: d, newWorker: workers}.run(ctx)
		})
		if err != nil {
			return err
		}
		sum.add(o, cmds, before, cpuTimes(pids))
		return nil
	}

	// Page views and the floor, in turn, round after round, so that a
	// slow spell of the shared machine hits them alike; then the login
	// flood, before the sustained logins, so that its peak RSS starts
	// from the page views'.
	newPhase()
	sums := make([]runningScenario, len(gets))
	rounds := s.rounds
	if s.starveOnly {
		rounds = 0
	}
	for round := range rounds {
		for i, g := range gets {
			getter, err := newRawGetter(g.url, g.cookie)
			if err != nil {
				return nil, err
			}
			name := fmt.Sprintf("%s, round %d of %d", g.name, round+1, s.rounds)
			if err := sustained(&sums[i], name, g.pid, s.duration, rawWorkers(getter)); err != nil {
				return nil, err
			}
		}
	}
	for i, g := range gets {
		res.Scenarios = append(res.Scenarios, sums[i].result(g.key, g.name))
	}
	res.RSS.PeakGetMiB = readRSS(pid, true)

	// Page views quiet and under a sustained flood of logins of another
	// account (the flood's sessions must not push the page views' out of
	// the per-user cap).
	if err := register(ctx, app, floodUser); err != nil {
		return nil, err
	}
	floodBody, _ := json.Marshal(map[string]string{"username": floodUser, "password": benchPassword})
	postFloodLogin := func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, app+"/auth/login", bytes.NewReader(floodBody))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, err
	}
	if res.Starvation, err = measureStarvation(ctx, s, app+"/api/dashboard", cookie.String(), postFloodLogin, progress); err != nil {
		return nil, err
	}
	if s.starveOnly {
		return res, nil
	}

	progress("login flood: %d concurrent POST /auth/login", s.flood)
	newPhase()
	o, cmds, err := counted(func() outcome { return flood(ctx, s.flood, postLogin) })
	if err != nil {
		return nil, err
	}
	res.Flood = newScenario(keyFlood, fmt.Sprintf("login flood (%d at once)", s.flood), o, cmds)
	res.RSS.PeakFloodMiB = readRSS(pid, true)

	newPhase()
	loginClient := newClient(s.conns)
	defer loginClient.CloseIdleConnections()
	var logins runningScenario
	if err := sustained(&logins, "POST /auth/login (JSON)", pid, s.loginDuration, clientWorkers(loginClient, postLogin)); err != nil {
		return nil, err
	}
	res.Scenarios = append(res.Scenarios, logins.result(keyLogin, "POST /auth/login (JSON)"))
	res.RSS.PeakLoginMiB = readRSS(pid, true)
	res.RSS.EndMiB = readRSS(pid, false)

	res.compare()
	return res, nil
}

// register creates the account username with benchPassword through the
// JSON API.
func register(ctx context.Context, app, username string) error {
	body, _ := json.Marshal(map[string]string{"username": username, "password": benchPassword})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, app+"/auth/register", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("POST /auth/register: %w", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST /auth/register %s: got %s, want 201: %s", username, resp.Status, b)
	}
	return nil
}

// signIn registers the bench user and signs in through the JSON API,
// returning the session cookie.
func signIn(ctx context.Context, app string) (*http.Cookie, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	post := func(path string, want int) (*http.Response, error) {
		body, _ := json.Marshal(map[string]string{"username": benchUser, "password": benchPassword})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, app+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("POST %s: %w", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			return nil, fmt.Errorf("POST %s: got %s, want %d: %s", path, resp.Status, want, b)
		}
		return resp, nil
	}
	if _, err := post("/auth/register", http.StatusCreated); err != nil {
		return nil, err
	}
	resp, err := post("/auth/login", http.StatusOK)
	if err != nil {
		return nil, err
	}
	// The session cookie; the device cookie beside it plays no part in a
	// page view.
	var session []*http.Cookie
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "gatehouse_session") && c.Value != "" {
			session = append(session, c)
		}
	}
	if len(session) != 1 {
		return nil, fmt.Errorf("POST /auth/login: got cookies %v, want one session cookie", resp.Cookies())
	}
	return &http.Cookie{Name: session[0].Name, Value: session[0].Value}, nil
}

// runningScenario adds up the rounds of one sustained scenario.
type runningScenario struct {
	o      outcome
	cmds   commandDelta
	cpu    []time.Duration // per process, as cpuTimes
	noCPU  bool            // a reading failed: cpu is incomplete
	rounds []roundStats
}

func (r *runningScenario) add(o outcome, cmds commandDelta, cpuBefore, cpuAfter []time.Duration) {
	if r.o.byStatus == nil {
		r.o.byStatus = map[int][]time.Duration{}
		r.cmds = commandDelta{}
	}
	for status, lat := range o.byStatus {
		r.o.byStatus[status] = append(r.o.byStatus[status], lat...)
	}
	r.o.setCookie += o.setCookie
	r.o.window += o.window
	r.o.total += o.total
	for k, n := range cmds {
		r.cmds[k] += n
	}
	if cpuBefore == nil || cpuAfter == nil {
		r.noCPU = true
	} else {
		if r.cpu == nil {
			r.cpu = make([]time.Duration, len(cpuAfter))
		}
		for i := range cpuAfter {
			r.cpu[i] += cpuAfter[i] - cpuBefore[i]
		}
	}
	st := summarise(o.byStatus[http.StatusOK], o.window)
	r.rounds = append(r.rounds, roundStats{RPS: st.RPS, P99ms: st.P99ms})
}

// result summarises every round: latencies over all of them, requests
// per second over their summed windows.
func (r *runningScenario) result(key, name string) scenarioResult {
	sc := newScenario(key, name, r.o, r.cmds)
	if !r.noCPU && r.cpu != nil && r.o.total > 0 {
		us := func(i int) float64 { return float64(r.cpu[i]) / float64(time.Microsecond) / float64(r.o.total) }
		sc.CPU = &cpuPerRequest{Server: us(0), Redis: us(1), LoadGen: us(2)}
	}
	if len(r.rounds) > 1 {
		sc.Rounds = r.rounds
	}
	return sc
}

// cpuTimes returns the CPU time of each process (0: the bench), or nil if
// one cannot be read.
func cpuTimes(pids []int) []time.Duration {
	ts := make([]time.Duration, len(pids))
	for i, pid := range pids {
		t, err := cpuTime(pid)
		if err != nil {
			return nil
		}
		ts[i] = t
	}
	return ts
}

// readRSS returns the app's peak RSS (VmHWM), or its current RSS, in MiB.
func readRSS(pid int, peak bool) float64 {
	rss, hwm, err := memory(pid)
	if err != nil {
		return 0
	}
	if peak {
		return float64(hwm) / (1 << 20)
	}
	return float64(rss) / (1 << 20)
}

func newScenario(key, name string, o outcome, cmds commandDelta) scenarioResult {
	sc := scenarioResult{Key: key, Name: name, Status: map[string]int{}, SetCookie: o.setCookie, TotalRequests: o.total}
	for status, lat := range o.byStatus {
		key := strconv.Itoa(status)
		if status == 0 {
			key = "error"
		}
		sc.Status[key] = len(lat)
		switch status {
		case http.StatusOK:
			sc.OK = summarise(lat, o.window)
		case http.StatusServiceUnavailable:
			st := summarise(lat, o.window)
			sc.Unavailable = &st
		default:
			sc.Other += len(lat)
		}
	}
	if o.total > 0 {
		sc.RedisCommandsPerRequest = float64(cmds.total()) / float64(o.total)
		sc.RedisCommands = cmds.perRequest(o.total)
	}
	return sc
}
