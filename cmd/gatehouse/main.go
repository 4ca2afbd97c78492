// Command gatehouse serves Gatehouse: session-based sign-in with sessions in
// Redis and users in MongoDB.
//
//	gatehouse [serve]      start the web server (the default)
//	gatehouse user ...     add users, set roles, disable, list (see gatehouse user help)
//	gatehouse healthcheck  exit 0 when the local server answers /healthz
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gatehouse/gatehouse/internal/datalock"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(1)
	}
}

const usage = `Usage: gatehouse [command]

Commands:
  serve        start the web server (default)
  user         add users, set roles, disable or list them (gatehouse user help)
  healthcheck  exit 0 when the server on $PORT answers /healthz
  help         show this text

Settings come from the environment; see README.md or .env.example.
`

// errUsage is matched (errors.Is) by the error of every command line that
// could not be understood, whose own message says what was wrong and what
// to type instead.
var errUsage = errors.New("usage")

// usageError is such an error.
type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == errUsage }

// badUsage returns a usageError with a formatted message.
func badUsage(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// run is the whole program, callable from tests with their own arguments,
// environment, input and output. It returns when ctx is cancelled and the server
// has shut down.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 1 {
		cmd = args[1]
	}
	switch cmd {
	case "serve":
		if len(args) > 2 {
			return badUsage("usage: gatehouse serve")
		}
		return serve(ctx, args[0], withDotEnv(getenv), stdout)
	case "healthcheck":
		return healthcheck(ctx, withDotEnv(getenv))
	case "user":
		return runUser(ctx, args[2:], withDotEnv(getenv), stdin, stdout, stderr)
	case "dev-lock-check":
		// Not in the usage: `make clean` asks whether a development
		// process still holds the data folder (DATA_DIR, or the argument).
		if len(args) > 3 {
			return badUsage("usage: gatehouse dev-lock-check [DIR]")
		}
		dir := withDotEnv(getenv)("DATA_DIR")
		if len(args) == 3 {
			dir = args[2]
		}
		if dir == "" {
			dir = "data"
		}
		return datalock.Check(dir)
	case "help", "-h", "-help", "--help":
		_, err := io.WriteString(stdout, usage)
		return err
	default:
		return badUsage("unknown command: %s (try: gatehouse help)", cmd)
	}
}
