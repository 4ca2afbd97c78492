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

	"golang.org/x/term"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
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
  list [-q PREFIX]                        list users

They use the same settings as the server (REDIS_URL, MONGO_URI, ...).
`

// runUser is `gatehouse user ...`: account administration from the
// command line, for bootstrapping the first admin.
func runUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		_, _ = io.WriteString(stdout, userUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	// Logs (audit lines) go to stderr, so stdout stays the command's output.
	logger := newLogger(cfg, stderr)
	cmd, rest := args[0], args[1:]

	switch cmd {
	case "add":
		fs := flag.NewFlagSet("user add", flag.ContinueOnError)
		fs.SetOutput(stderr)
		name := fs.String("username", "", "the new user's name")
		role := fs.String("role", "user", "user or admin")
		if err := fs.Parse(rest); err != nil || *name == "" || fs.NArg() != 0 {
			fmt.Fprint(stderr, userUsage)
			return errUsage
		}
		pw, err := readPassword(stdin, stdout)
		if err != nil {
			return err
		}
		return withApp(ctx, cfg, logger, func(a *app.App) error {
			u, err := a.Users.Create(ctx, *name, pw, user.Role(*role))
			if err != nil {
				return describe(err)
			}
			logger.Info("audit", "event", "user_created", "user_id", u.ID, "role", string(u.Role), "session_id", "cli", "ip", "local", "request_id", "")
			fmt.Fprintf(stdout, "created %s (role %s)\n", u.Username, u.Role)
			return nil
		})
	case "set-role", "disable", "enable":
		want := map[string]int{"set-role": 2, "disable": 1, "enable": 1}[cmd]
		if len(rest) != want {
			fmt.Fprint(stderr, userUsage)
			return errUsage
		}
		return withApp(ctx, cfg, logger, func(a *app.App) error {
			u, err := a.Users.ByUsername(ctx, rest[0])
			if err != nil {
				return describe(err)
			}
			event, revoke := "", true
			switch cmd {
			case "set-role":
				u, err = a.Users.SetRole(ctx, u.ID, user.Role(rest[1]))
				event = "role_changed"
			case "disable":
				u, err = a.Users.SetDisabled(ctx, u.ID, true)
				event = "user_disabled"
			case "enable":
				u, err = a.Users.SetDisabled(ctx, u.ID, false)
				event, revoke = "user_enabled", false
			}
			if err != nil {
				return describe(err)
			}
			logger.Info("audit", "event", event, "user_id", u.ID, "role", string(u.Role), "session_id", "cli", "ip", "local", "request_id", "")
			if !revoke {
				fmt.Fprintf(stdout, "%s: role %s, %s\n", u.Username, u.Role, status(u))
				return nil
			}
			// The change replaced the user's security stamp: their
			// sessions end at their next touch whatever happens here.
			// Revoking them in Redis ends them now.
			ids, err := a.Index.RevokeAll(ctx, u.ID, "")
			if err != nil {
				logger.Warn("could not sign the user's sessions out at once", "user_id", u.ID, "err", err)
				fmt.Fprintf(stdout, "%s: role %s, %s; their sessions could not be signed out at once (Redis: %v), and end within %s (SESSION_TOUCH_INTERVAL)\n",
					u.Username, u.Role, status(u), err, cfg.SessionTouchInterval)
				return nil
			}
			for _, id := range ids {
				logger.Info("audit", "event", "session_revoked", "user_id", u.ID, "session_id", id, "ip", "local", "request_id", "", "reason", event)
			}
			fmt.Fprintf(stdout, "%s: role %s, %s; %d session(s) signed out now\n", u.Username, u.Role, status(u), len(ids))
			return nil
		})
	case "list":
		fs := flag.NewFlagSet("user list", flag.ContinueOnError)
		fs.SetOutput(stderr)
		q := fs.String("q", "", "only names starting with this")
		if err := fs.Parse(rest); err != nil || fs.NArg() != 0 {
			fmt.Fprint(stderr, userUsage)
			return errUsage
		}
		return withApp(ctx, cfg, logger, func(a *app.App) error {
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USERNAME\tROLE\tSTATUS\tCREATED\tLAST LOGIN")
			for page := 1; ; page++ {
				list, total, err := a.Users.List(ctx, *q, page, 100)
				if err != nil {
					return describe(err)
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
	default:
		fmt.Fprint(stderr, userUsage)
		return errUsage
	}
}

func status(u *user.User) string {
	if u.Disabled {
		return "disabled"
	}
	return "active"
}

// describe turns domain errors into messages for the operator.
func describe(err error) error {
	if ve, ok := errors.AsType[*user.ValidationError](err); ok {
		return errors.New(ve.Message)
	}
	switch {
	case errors.Is(err, user.ErrNotFound):
		return errors.New("no such user")
	case errors.Is(err, user.ErrUsernameTaken):
		return errors.New("that username is taken")
	case errors.Is(err, user.ErrLastAdmin):
		return errors.New("at least one enabled admin is needed: promote someone else first")
	}
	return err
}

// readPassword prompts without echo on a terminal, or reads one line from
// stdin (so that scripts can pipe it in), at most 1 KiB.
func readPassword(stdin io.Reader, stdout io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stdout, "Password: ")
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stdout)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stdout, "Again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stdout)
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
// the command's duration), runs fn and closes everything.
func withApp(ctx context.Context, cfg config.Config, logger *slog.Logger, fn func(*app.App) error) error {
	if (cfg.RedisURL == "" && len(cfg.RedisSentinelAddrs) == 0 && len(cfg.RedisClusterAddrs) == 0) || cfg.MongoURI == "" {
		stop, err := devServices(ctx, &cfg, logger)
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
