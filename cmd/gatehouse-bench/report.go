package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
)

// Scenario keys, stable for tools that read the JSON.
const (
	keyDashboard = "dashboard"
	keyAPI       = "api_dashboard"
	keyFloor     = "floor"
	keyLogin     = "login"
	keyFlood     = "login_flood"
)

// results is everything one run measured; it is printed as a table and
// written as JSON.
type results struct {
	Settings  runSettings      `json:"settings"`
	Scenarios []scenarioResult `json:"scenarios"`
	Flood     scenarioResult   `json:"login_flood"`
	// Starvation compares page views quiet and under a login flood.
	Starvation *starvationResult `json:"page_views_under_login_flood,omitempty"`
	Floor      floorRatio        `json:"gatehouse_vs_floor"`
	Memory     memoryResult      `json:"redis_bytes_per_session"`
	RSS        rssResult         `json:"app_rss"`
}

type runSettings struct {
	Started        string  `json:"started"`
	GoVersion      string  `json:"go_version"`
	CPUs           int     `json:"cpus"`
	Conns          int     `json:"connections"`
	WarmupS        float64 `json:"warmup_seconds"`
	DurationS      float64 `json:"duration_seconds"`
	LoginDurationS float64 `json:"login_duration_seconds"`
	Rounds         int     `json:"rounds"`
	Flood          int     `json:"flood_logins"`
	// LoadAverage is the machine's 1, 5 and 15 minute load before the
	// run: other work on the machine skews the numbers.
	LoadAverage string `json:"load_average,omitempty"`
}

type scenarioResult struct {
	Key  string `json:"key"`
	Name string `json:"name"`
	// OK summarises the 200 responses of the measured window, Unavailable
	// the 503s; Other counts the rest (Status has them all).
	OK          stats          `json:"ok"`
	Unavailable *stats         `json:"unavailable,omitempty"`
	Other       int            `json:"other"`
	Status      map[string]int `json:"status"`
	SetCookie   int            `json:"responses_with_set_cookie"`
	// Redis commands over every request sent, warm-up included.
	TotalRequests           int                `json:"total_requests"`
	RedisCommandsPerRequest float64            `json:"redis_commands_per_request"`
	RedisCommands           map[string]float64 `json:"redis_commands_per_request_by_command"`
	// CPU is the CPU time each process used per request, warm-up included;
	// nil for the flood.
	CPU *cpuPerRequest `json:"cpu_us_per_request,omitempty"`
	// Rounds are the scenario's rounds, when it ran in several.
	Rounds []roundStats `json:"rounds,omitempty"`
}

// roundStats is one round of a scenario, its 200 responses only.
type roundStats struct {
	RPS   float64 `json:"requests_per_second"`
	P99ms float64 `json:"p99_ms"`
}

// cpuPerRequest is CPU time per request in microseconds, from /proc: the
// server under test (the app or the floor), redis-server and the bench's
// own process, which is the load generator (its FerretDB is idle then).
type cpuPerRequest struct {
	Server  float64 `json:"server"`
	Redis   float64 `json:"redis"`
	LoadGen float64 `json:"load_generator"`
}

// floorRatio compares /dashboard with the floor: the median over the
// rounds of each round's ratio, the two having run one after the other.
type floorRatio struct {
	Throughput    float64 `json:"throughput_ratio"`
	ThroughputMet bool    `json:"throughput_target_met"`
	P99           float64 `json:"p99_ratio"`
	P99Met        bool    `json:"p99_target_met"`
	// The ratios of each round.
	ThroughputRounds []float64 `json:"throughput_ratio_rounds,omitempty"`
	P99Rounds        []float64 `json:"p99_ratio_rounds,omitempty"`
}

// rssResult is the app's resident memory: now, after signing in, and the
// peak (VmHWM) of each phase, reset before it.
type rssResult struct {
	AfterLoginMiB float64 `json:"after_sign_in_mib"`
	PeakGetMiB    float64 `json:"peak_get_scenarios_mib"`
	PeakLoginMiB  float64 `json:"peak_login_scenario_mib"`
	PeakFloodMiB  float64 `json:"peak_login_flood_mib"`
	EndMiB        float64 `json:"end_mib"`
}

func (r *results) scenario(key string) *scenarioResult {
	for i := range r.Scenarios {
		if r.Scenarios[i].Key == key {
			return &r.Scenarios[i]
		}
	}
	return nil
}

// ordered returns the scenarios in the order they ran: the sustained ones
// but the last (the logins), the flood, then the logins.
func (r *results) ordered() []scenarioResult {
	out := slices.Clone(r.Scenarios)
	if i := slices.IndexFunc(out, func(s scenarioResult) bool { return s.Key == keyLogin }); i >= 0 {
		return slices.Insert(out, i, r.Flood)
	}
	return append(out, r.Flood)
}

// compare sets Gatehouse's ratios to the floor.
func (r *results) compare() {
	g, f := r.scenario(keyDashboard), r.scenario(keyFloor)
	if g == nil || f == nil || f.OK.RPS == 0 || f.OK.P99ms == 0 {
		return
	}
	r.Floor.Throughput = g.OK.RPS / f.OK.RPS
	r.Floor.P99 = g.OK.P99ms / f.OK.P99ms
	if len(g.Rounds) > 1 && len(g.Rounds) == len(f.Rounds) {
		r.Floor.ThroughputRounds, r.Floor.P99Rounds = nil, nil
		for i := range g.Rounds {
			if f.Rounds[i].RPS == 0 || f.Rounds[i].P99ms == 0 {
				return
			}
			r.Floor.ThroughputRounds = append(r.Floor.ThroughputRounds, g.Rounds[i].RPS/f.Rounds[i].RPS)
			r.Floor.P99Rounds = append(r.Floor.P99Rounds, g.Rounds[i].P99ms/f.Rounds[i].P99ms)
		}
		r.Floor.Throughput = median(r.Floor.ThroughputRounds)
		r.Floor.P99 = median(r.Floor.P99Rounds)
	}
	r.Floor.ThroughputMet = r.Floor.Throughput >= targetThroughput
	r.Floor.P99Met = r.Floor.P99 <= targetP99
}

// median returns the middle value of xs (the mean of the two middle ones
// for an even count).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// print writes the table, without trailing spaces.
func (r *results) print(out io.Writer) {
	var buf bytes.Buffer
	r.format(&buf)
	for line := range strings.Lines(buf.String()) {
		fmt.Fprintln(out, strings.TrimRight(line, " \n"))
	}
}

func (r *results) format(w io.Writer) {
	s := r.Settings
	fmt.Fprintf(w, "\nGatehouse bench, %s, %s, %d CPUs (load average %s): %d connections;\n"+
		"GET scenarios and floor in turn, %d rounds of %gs warm-up + %gs each; logins %gs warm-up + %gs\n\n",
		s.Started, s.GoVersion, s.CPUs, s.LoadAverage, s.Conns, s.Rounds, s.WarmupS, s.DurationS, s.WarmupS, s.LoginDurationS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tstatus\treq/s\tp50 ms\tp99 ms\tmax ms\tresponses\tSet-Cookie\tRedis cmds/req\t")
	row := func(sc scenarioResult, label string, st stats, first, rate bool) {
		rps, cmds, setCookie := "-", "", ""
		if rate {
			rps = fmt.Sprintf("%.0f", st.RPS)
			if st.RPS < 100 {
				rps = fmt.Sprintf("%.1f", st.RPS)
			}
		}
		if first {
			cmds = fmt.Sprintf("%.2f", sc.RedisCommandsPerRequest)
			setCookie = fmt.Sprint(sc.SetCookie)
		}
		name := sc.Name
		if !first {
			name = ""
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%d\t%s\t%s\t\n", name, label, rps, st.P50ms, st.P99ms, st.MaxMs, st.Count, setCookie, cmds)
	}
	for _, sc := range r.ordered() {
		rate := sc.Key != keyFlood
		row(sc, "200", sc.OK, true, rate)
		if sc.Unavailable != nil {
			row(sc, "503", *sc.Unavailable, false, rate)
		}
		if sc.Other > 0 {
			fmt.Fprintf(tw, "\tother\t\t\t\t\t%d\t\t%s\t\n", sc.Other, statusList(sc.Status))
		}
	}
	_ = tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Redis commands per request, warm-up included (INFO commandstats; commands inside Lua scripts count too):")
	for _, sc := range r.ordered() {
		fmt.Fprintf(tw, "  %s\t%s\n", sc.Name, commandList(sc.RedisCommands))
	}
	_ = tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CPU per request, warm-up included (/proc; µs):	server	redis-server	load generator	")
	for _, sc := range r.ordered() {
		if sc.CPU != nil {
			fmt.Fprintf(tw, "  %s	%.1f	%.1f	%.1f	\n", sc.Name, sc.CPU.Server, sc.CPU.Redis, sc.CPU.LoadGen)
		}
	}
	_ = tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.Floor.Throughput > 0 {
		fmt.Fprintf(tw, "Gatehouse / floor\tthroughput %.2fx (target >= %.1fx: %s), p99 %.2fx (target <= %.1fx: %s)\n",
			r.Floor.Throughput, targetThroughput, met(r.Floor.ThroughputMet), r.Floor.P99, targetP99, met(r.Floor.P99Met))
		if n := len(r.Floor.ThroughputRounds); n > 1 {
			fmt.Fprintf(tw, "\tmedians of %d rounds; throughput %s, p99 %s\n", n, ratioList(r.Floor.ThroughputRounds), ratioList(r.Floor.P99Rounds))
		}
	}
	_ = tw.Flush()
	r.Starvation.format(w)
	r.Memory.format(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fl := r.Flood
	fmt.Fprintf(tw, "App RSS (MiB)\t%.1f after sign-in; peak %.1f over the GET scenarios and the floor\n", r.RSS.AfterLoginMiB, r.RSS.PeakGetMiB)
	fmt.Fprintf(tw, "\tpeak %.1f in the flood of %d logins at once (%d ok, %d 503, %d other)\n",
		r.RSS.PeakFloodMiB, r.Settings.Flood, fl.OK.Count, countOf(fl.Unavailable), fl.Other)
	fmt.Fprintf(tw, "\tpeak %.1f over the sustained logins; %.1f at the end\n", r.RSS.PeakLoginMiB, r.RSS.EndMiB)
	_ = tw.Flush()
}

func ratioList(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, " ")
}

func countOf(s *stats) int {
	if s == nil {
		return 0
	}
	return s.Count
}

// commandList formats per-command rates, e.g. "GET 1.00, MULTI 0.50".
func commandList(m map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		f := "%s %.2f"
		if m[k] < 0.005 {
			f = "%s %.4f"
		}
		parts = append(parts, fmt.Sprintf(f, k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func statusList(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k != "200" && k != "503" {
			parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// writeJSON writes the results to path, creating its folder.
func (r *results) writeJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// format writes the bytes per session of each population.
func (m memoryResult) format(w io.Writer) {
	if len(m.Populations) == 0 {
		return
	}
	fmt.Fprintf(w, "\nRedis bytes per session, index included (allocated memory over each population, less client buffers; target <= %d for %s: %s):\n",
		m.Target, m.Populations[0].Name, met(m.TargetMet))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "population\tbare token key\tlayout before\tnow\tnow / bare\t")
	for _, p := range m.Populations {
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.2fx\t\n", p.Name, p.Floor, p.Before, p.After, p.After/p.Floor)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
}
