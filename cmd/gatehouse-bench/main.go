// Command gatehouse-bench measures Gatehouse under load, for `make bench`.
//
// It builds the production binary, starts it in production mode on a private
// redis-server and an embedded FerretDB, signs a user in, and drives load at a
// fixed number of keep-alive connections with a load generator of its own:
// the authenticated GET /dashboard and GET /api/dashboard, POST /auth/login,
// and a floor (a bare net/http handler in a process of its own doing one redigo GET
// on the same redis-server). It reports requests per second and latency, Redis
// commands per request, Redis bytes per session, the app's peak RSS (also
// under a flood of concurrent logins), and the ratio of Gatehouse to the
// floor. It prints a table, writes the same as JSON, and stops everything it
// started, also on Ctrl-C or an error.
//
// This is a harness, not the production binary, so it may link FerretDB.
// Everything listens on 127.0.0.1 only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) == 3 && os.Args[1] == "-serve-floor" {
		err = serveFloor(ctx, os.Args[2], os.Stdout)
	} else {
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse-bench:", err)
		stop()
		os.Exit(1)
	}
}

// settings are the command-line flags.
type settings struct {
	warmup, duration time.Duration // per load scenario
	loginDuration    time.Duration // the POST /auth/login scenario
	rounds           int           // rounds of the GET scenarios and the floor
	starveRounds     int           // rounds of page views quiet and under a login flood
	conns            int           // concurrent keep-alive connections
	flood            int           // concurrent logins in the flood
	out              string        // JSON file
	appBin           string        // a prebuilt production binary; empty builds one
	keep             bool          // keep the temporary folder (logs)
	memoryOnly       bool          // measure bytes per session only
	starveOnly       bool          // measure page views under a login flood only
	appEnv           envList       // extra KEY=VALUE settings for the app
}

// envList is a repeated -env flag.
type envList []string

func (l *envList) String() string { return strings.Join(*l, " ") }

func (l *envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*l = append(*l, v)
	return nil
}

func parseFlags(args []string, stderr io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("gatehouse-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&s.warmup, "warmup", time.Second, "warm-up before each load scenario and round (not measured)")
	fs.DurationVar(&s.duration, "duration", 2*time.Second, "measured time of each round of each GET scenario and the floor")
	fs.IntVar(&s.rounds, "rounds", 7, "rounds of the GET scenarios and the floor, run in turn")
	fs.DurationVar(&s.loginDuration, "login-duration", 10*time.Second, "measured time of the POST /auth/login scenario")
	fs.IntVar(&s.starveRounds, "starve-rounds", 3, "rounds of page views quiet and under a sustained login flood")
	fs.IntVar(&s.conns, "conns", 64, "concurrent keep-alive connections")
	fs.IntVar(&s.flood, "flood", 500, "concurrent logins in the login flood")
	fs.StringVar(&s.out, "out", "bin/bench.json", "write the results as JSON to this file")
	fs.StringVar(&s.appBin, "app", "", "use this production binary instead of building ./cmd/gatehouse")
	fs.BoolVar(&s.keep, "keep", false, "keep the temporary folder with the app's and redis-server's logs")
	fs.BoolVar(&s.memoryOnly, "memory-only", false, "measure Redis bytes per session only, without the load scenarios")
	fs.BoolVar(&s.starveOnly, "starve-only", false, "measure page views quiet and under a login flood only")
	fs.Var(&s.appEnv, "env", "a KEY=VALUE setting for the app, after the bench's own (repeat it for more)")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if s.conns < 1 || s.flood < 1 || s.rounds < 1 || s.starveRounds < 1 || s.duration <= 0 || s.loginDuration <= 0 || s.warmup < 0 {
		return s, fmt.Errorf("-conns, -flood, -rounds and -starve-rounds must be positive, -duration and -login-duration too, -warmup not negative")
	}
	return s, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }

	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return err
	}
	if s.keep {
		defer progress("kept %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	res := &results{}
	if !s.memoryOnly {
		env, err := startEnv(ctx, s, dir, logger, progress)
		// stop runs even when startEnv failed half-way.
		defer env.stop(progress)
		if err != nil {
			return err
		}
		if res, err = measure(ctx, s, env, progress); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted (%w); stopped everything it had started", err)
			}
			return err
		}
	}
	if s.starveOnly {
		res.Starvation.format(stdout)
		return res.writeJSON(s.out)
	}
	if res.Memory, err = measureMemory(ctx, dir, logger, progress); err != nil {
		return err
	}
	if s.memoryOnly {
		res.Memory.format(stdout)
		return res.writeJSON(s.out)
	}
	res.print(stdout)
	if err := res.writeJSON(s.out); err != nil {
		return err
	}
	progress("wrote %s", s.out)
	return nil
}
