package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
)

const userUsage = `Usage: gatehouse user <command>

Commands:
  add -username NAME [-role user|admin]   create a user; the password is read from stdin
                                          (or prompted for on a terminal)
  set-role NAME ROLE                      make NAME a user or an admin; signs NAME out everywhere
                                          (at once, or within SESSION_TOUCH_INTERVAL if Redis is away)
  disable NAME                            disable NAME's account; signs NAME out everywhere
  enable NAME                             enable NAME's account again
  reset-2fa NAME                          remove NAME's authenticator app, recovery codes and passkeys,
                                          for someone who lost them; NAME is told by mail when mail is on
  list [-q PREFIX]                        list users

They use the same settings as the server (REDIS_URL, MONGO_URI, ...), and print
only their result; LOG_LEVEL=debug adds their audit lines on stderr.
`

// Each command's usage line, for its usage errors.
var userCommandUsage = map[string]string{
	"add":       "usage: gatehouse user add -username NAME [-role user|admin]",
	"set-role":  "usage: gatehouse user set-role NAME user|admin",
	"disable":   "usage: gatehouse user disable NAME",
	"enable":    "usage: gatehouse user enable NAME",
	"list":      "usage: gatehouse user list [-q PREFIX]",
	"reset-2fa": "usage: gatehouse user reset-2fa NAME",
}

// runUser is `gatehouse user ...`: account administration from the
// command line, for bootstrapping the first admin. It prints its result
// on stdout and nothing else: errors are returned (main prints them as
// "gatehouse: ERROR"), and the password prompt goes to stderr.
//
// Its audit lines are logged at info, and it logs at warn or above unless
// LOG_LEVEL=debug: on the command line they reach only the operator's
// terminal (go run, docker compose exec), never the server's log stream,
// so by default the result line, which says the same in words, is the
// whole output. LOG_LEVEL=debug shows them, for a script that keeps them.
func runUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return badUsage("usage: gatehouse user add|set-role|disable|enable|reset-2fa|list ... (try: gatehouse user help)")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "-help", "--help":
		return printUsage(stdout)
	case "add", "set-role", "disable", "enable", "list", "reset-2fa":
	default:
		return badUsage("unknown user command: %s (try: gatehouse user help)", cmd)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	if cfg.LogLevel > slog.LevelDebug && cfg.LogLevel < slog.LevelWarn {
		cfg.LogLevel = slog.LevelWarn
	}
	logger := newLogger(cfg, stderr)

	switch cmd {
	case "add":
		fs := flag.NewFlagSet("user add", flag.ContinueOnError)
		name := fs.String("username", "", "the new user's name")
		role := fs.String("role", "user", "user or admin")
		if help, err := parseFlags(fs, rest, userCommandUsage[cmd]); err != nil || help {
			if help {
				return printUsage(stdout)
			}
			return err
		}
		if *name == "" {
			return badUsage("%s", userCommandUsage[cmd])
		}
		pw, err := readPassword(stdin, stderr)
		if err != nil {
			return err
		}
		return withApp(ctx, cfg, logger, "user "+cmd, func(a *app.App) error {
			u, err := a.Users.Create(ctx, *name, pw, user.Role(*role))
			if err != nil {
				return describe(err, *name, *role)
			}
			logger.Info("audit", "event", "user_created", "user_id", u.ID, "role", string(u.Role), "session_id", "cli", "ip", "local", "request_id", "")
			fmt.Fprintf(stdout, "created %s (role %s)\n", u.Username, u.Role)
			return nil
		})
	case "reset-2fa":
		if len(rest) != 1 {
			return badUsage("%s", userCommandUsage[cmd])
		}
		return withApp(ctx, cfg, logger, "user "+cmd, func(a *app.App) error {
			u, err := a.Users.ByUsername(ctx, rest[0])
			if err != nil {
				return describe(err, rest[0], "")
			}
			if err := a.ResetSecondFactors(ctx, u.ID); err != nil {
				return err
			}
			logger.Info("audit", "event", "second_factors_reset", "user_id", u.ID, "session_id", "cli", "ip", "local", "request_id", "")
			fmt.Fprintf(stdout, "%s: second factors removed; they sign in with their password alone until they set up new ones\n", u.Username)
			return nil
		})
	case "set-role", "disable", "enable":
		want := map[string]int{"set-role": 2, "disable": 1, "enable": 1}[cmd]
		if len(rest) != want {
			return badUsage("%s", userCommandUsage[cmd])
		}
		role := ""
		if cmd == "set-role" {
			role = rest[1]
		}
		return withApp(ctx, cfg, logger, "user "+cmd, func(a *app.App) error {
			u, err := a.Users.ByUsername(ctx, rest[0])
			if err != nil {
				return describe(err, rest[0], role)
			}
			event, revoke := "", true
			switch cmd {
			case "set-role":
				u, err = a.Users.SetRole(ctx, u.ID, user.Role(role))
				event = "role_changed"
			case "disable":
				u, err = a.Users.SetDisabled(ctx, u.ID, true)
				event = "user_disabled"
			case "enable":
				u, err = a.Users.SetDisabled(ctx, u.ID, false)
				event, revoke = "user_enabled", false
			}
			if err != nil {
				return describe(err, rest[0], role)
			}
			logger.Info("audit", "event", event, "user_id", u.ID, "role", string(u.Role), "session_id", "cli", "ip", "local", "request_id", "")
			if !revoke {
				fmt.Fprintf(stdout, "%s: role %s, %s\n", u.Username, u.Role, status(u))
				return nil
			}
			// The change replaced the user's security stamp: their
			// sessions end at their next touch whatever happens here.
			// Revoking them in Redis ends them now.
			ids, err := a.Index.RevokeAll(ctx, u.ID, "", session.EndedForSecurity)
			if err != nil {
				logger.Warn("could not sign the user's sessions out at once", "user_id", u.ID, "err", err)
				fmt.Fprintf(stdout, "%s: role %s, %s; their sessions could not be signed out at once (Redis: %v), and end within %s (SESSION_TOUCH_INTERVAL)\n",
					u.Username, u.Role, status(u), err, config.FormatDuration(cfg.SessionTouchInterval))
				return nil
			}
			for _, id := range ids {
				logger.Info("audit", "event", "session_revoked", "user_id", u.ID, "session_id", id, "ip", "local", "request_id", "", "reason", event)
			}
			fmt.Fprintf(stdout, "%s: role %s, %s; %s signed out now\n", u.Username, u.Role, status(u), sessions(len(ids)))
			return nil
		})
	default: // list
		fs := flag.NewFlagSet("user list", flag.ContinueOnError)
		q := fs.String("q", "", "only names starting with this")
		if help, err := parseFlags(fs, rest, userCommandUsage[cmd]); err != nil || help {
			if help {
				return printUsage(stdout)
			}
			return err
		}
		return withApp(ctx, cfg, logger, "user "+cmd, func(a *app.App) error {
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USERNAME\tROLE\tSTATUS\tCREATED\tLAST LOGIN")
			for page := 1; ; page++ {
				list, total, err := a.Users.List(ctx, *q, page, 100)
				if err != nil {
					return err
				}
				for _, u := range list {
					last := "never"
					if !u.LastLoginAt.IsZero() {
						last = u.LastLoginAt.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Username, u.Role, status(u), u.CreatedAt.Format(time.RFC3339), last)
				}
				if int64(page*100) >= total {
					break
				}
			}
			return tw.Flush()
		})
	}
}

func printUsage(w io.Writer) error {
	_, err := io.WriteString(w, userUsage)
	return err
}

// parseFlags parses args into fs. help reports -h, for which the caller
// prints the usage; a bad flag or a stray argument is a usage error that
// shows usageLine.
func parseFlags(fs *flag.FlagSet, args []string, usageLine string) (help bool, err error) {
	fs.SetOutput(io.Discard)
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return true, nil
	case err != nil:
		return false, badUsage("%s (%v)", usageLine, err)
	case fs.NArg() != 0:
		return false, badUsage("%s", usageLine)
	}
	return false, nil
}

func status(u *user.User) string {
	if u.Disabled {
		return "disabled"
	}
	return "active"
}

// sessions is "1 session" or "N sessions".
func sessions(n int) string {
	if n == 1 {
		return "1 session"
	}
	return fmt.Sprintf("%d sessions", n)
}

// describe turns domain errors into messages for the operator, in one
// style: what is wrong, then the name or value it is wrong about.
func describe(err error, name, role string) error {
	if ve, ok := errors.AsType[*user.ValidationError](err); ok {
		if ve.Field == "role" {
			return fmt.Errorf("no such role: %s (want user or admin)", role)
		}
		// The web form's sentence ("Password must be at least 8
		// characters"), without its capital.
		r, size := utf8.DecodeRuneInString(ve.Message)
		return errors.New(string(unicode.ToLower(r)) + ve.Message[size:])
	}
	switch {
	case errors.Is(err, user.ErrNotFound):
		return fmt.Errorf("no such user: %s", name)
	case errors.Is(err, user.ErrUsernameTaken):
		return fmt.Errorf("username taken: %s", name)
	case errors.Is(err, user.ErrLastAdmin):
		return fmt.Errorf("last enabled admin: %s (make another user an admin first)", name)
	}
	return err
}

// readPassword prompts on stderr without echo when stdin is a terminal,
// or reads one line from stdin (so that scripts can pipe it in), at most
// 1 KiB.
func readPassword(stdin io.Reader, prompt io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(prompt, "Password: ")
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		fmt.Fprint(prompt, "Again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		if string(pw) != string(again) {
			return "", errors.New("the passwords do not match")
		}
		return string(pw), nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 1024)).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("no password on stdin")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// withApp builds the application on the configured servers (or, in
// development, on those of a running `make run`, or on embedded ones for
// the command's duration), runs fn and closes everything. command names
// the command to a `make run` that the data folder's lock turns away.
func withApp(ctx context.Context, cfg config.Config, logger *slog.Logger, command string, fn func(*app.App) error) error {
	if needsEmbedded(cfg) {
		stop, err := devServices(ctx, &cfg, logger, command)
		if err != nil {
			return err
		}
		defer stop()
	}
	a, err := app.New(ctx, cfg, app.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a)
}
