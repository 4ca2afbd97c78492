package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/datalock"
	"github.com/gatehouse/gatehouse/templates"
	"github.com/gatehouse/gatehouse/web"
)

// embeddedServices starts stand-ins for the services whose URL is empty, in
// development. It is set only in builds with the dev tag (make run), so the
// production binary links neither FerretDB nor miniredis.
var embeddedServices func(ctx context.Context, cfg *config.Config, logger *slog.Logger) (stop func(), err error)

// needsEmbedded reports whether cfg leaves Redis or MongoDB to the
// embedded development servers: no Redis of any kind, or no MONGO_URI.
func needsEmbedded(cfg config.Config) bool {
	return (cfg.RedisURL == "" && len(cfg.RedisSentinelAddrs) == 0 && len(cfg.RedisClusterAddrs) == 0) || cfg.MongoURI == ""
}

// embeddedMail starts an SMTP server inside the process that keeps what
// it receives in memory, points cfg.SMTPURL at it, and returns its store
// for /dev/mail. Like embeddedServices, only dev builds set it.
var embeddedMail func(ctx context.Context, cfg *config.Config, logger *slog.Logger) (box web.DevMailbox, stop func(), err error)

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.Production() {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the web server; prog is how the program was started, for
// the hint on creating the first admin.
// gcPercent is the server's GOGC when the environment sets none. Every
// password check allocates argon2id's 19 MiB at once: at Go's default of
// 100, with a live heap of a few tens of MiB, a login flood ran a garbage
// collection for about every hash, and page views paid for them in assists
// and pauses (make bench's flood: page-view p99 2.8 to 3.1 times its quiet
// value at 100, 1.4 to 1.7 at 400, side by side). The heap may now grow
// to five times the live data between collections instead of twice.
const gcPercent = 400

// setGCPercent applies GOGC as Go reads it (a percentage, or "off"), or
// gcPercent when it is empty. The runtime read it at start-up only from
// the process's environment; this applies one from .env too. A value Go
// would not accept is left to the runtime (Go's default).
func setGCPercent(v string) {
	switch {
	case v == "":
		debug.SetGCPercent(gcPercent)
	case v == "off":
		debug.SetGCPercent(-1)
	default:
		if n, err := strconv.Atoi(v); err == nil {
			debug.SetGCPercent(n)
		}
	}
}

func serve(ctx context.Context, prog string, getenv func(string) string, stdout io.Writer) error {
	setGCPercent(getenv("GOGC"))
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	embedded := needsEmbedded(cfg)
	var lock *datalock.Lock
	if embedded {
		if embeddedServices == nil {
			return errors.New("REDIS_URL (or REDIS_SENTINEL_ADDRS or REDIS_CLUSTER_ADDRS) and MONGO_URI must be set in this build; " +
				"`make run` (a build with -tags dev) starts embedded services when they are empty")
		}
		// Before anything else: a second server on the same folder would
		// start a second Redis on the first one's files.
		lock, err = datalock.Acquire(cfg.DataDir, datalock.Holder{PID: os.Getpid(), Command: "serve", Started: time.Now()})
		if err != nil {
			return err
		}
		defer lock.Release()
	}
	logger := newLogger(cfg, stdout)
	logger.Info("starting gatehouse", "config", cfg.String())
	for _, d := range cfg.Deprecated {
		logger.Warn("a setting uses its old name; rename it", "variable", d)
	}

	if embedded {
		// A state file left by a server that crashed names dead servers.
		removeDevState(&cfg)
		stop, err := embeddedServices(ctx, &cfg, logger)
		if err != nil {
			return fmt.Errorf("start embedded services: %w", err)
		}
		defer stop()
		remove, err := writeDevState(&cfg)
		if err != nil {
			return err
		}
		defer remove()
	}

	// Development with no SMTP_URL: the mail goes to an SMTP server in
	// this process, and /dev/mail shows it.
	var devMailbox web.DevMailbox
	if cfg.MailEnabled && cfg.SMTPURL == "" {
		if embeddedMail == nil {
			logger.Warn("SMTP_URL is empty and this build has no embedded SMTP server (make run has one): e-mail is off")
			cfg.MailEnabled = false
		} else {
			box, stop, err := embeddedMail(ctx, &cfg, logger)
			if err != nil {
				return fmt.Errorf("start the embedded SMTP server: %w", err)
			}
			defer stop()
			devMailbox = box
		}
	}

	// Listen first: in development, links in mails lead to the address
	// actually listened on (PORT=0 picks one).
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr(), err)
	}
	defer ln.Close()
	url := "http://" + browsable(ln.Addr())
	if cfg.PublicURL == "" {
		cfg.PublicURL = url
	}

	tmpl, reload := templateFS(cfg)
	a, err := app.New(ctx, cfg, app.Options{Logger: logger, Templates: tmpl, ReloadTemplates: reload, DevMailbox: devMailbox})
	if err != nil {
		return err
	}
	defer a.Close()
	// The worker stops after the server (deferred calls run last-in
	// first-out), finishing the mail in hand.
	stopMail := a.StartMail()
	defer stopMail()
	if devMailbox != nil {
		logger.Info("mail goes to an SMTP server inside this process: read it at " + url + "/dev/mail")
	}

	stopMetricsListener := startMetricsListener(cfg.MetricsAddr, a.Metrics, cfg.PprofEnabled, logger)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		stopMetricsListener(ctx)
	}()

	srv := &http.Server{
		Handler:           closeWhileDraining(a),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("listening", "addr", ln.Addr().String(), "url", url)
	if lock != nil {
		if err := lock.SetURL(url); err != nil {
			logger.Warn("could not record the URL beside the data folder's lock", "err", err)
		}
	}
	if n, err := a.Users.CountAdmins(ctx); err != nil {
		logger.Warn("could not count the admins", "err", err)
	} else if n == 0 {
		cmd := prog // /gatehouse in the container
		if !cfg.Production() {
			// Under go run, prog is a temporary file; this works from
			// the repository root beside make run or go run alike.
			cmd = "go run -tags dev ./cmd/gatehouse"
		}
		logger.Info("no admin yet: create one with: " + cmd + " user add -username NAME -role admin")
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	// Drain: /readyz answers 503 so that load balancers stop sending
	// requests here, while those that still arrive are served.
	a.Drain()
	if cfg.ShutdownDrain > 0 {
		logger.Info("draining", "for", config.FormatDuration(cfg.ShutdownDrain))
		t := time.NewTimer(cfg.ShutdownDrain)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return fmt.Errorf("serve: %w", err)
		}
	}

	// A fresh context: the parent is already cancelled.
	logger.Info("shutting down", "timeout", config.FormatDuration(cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// closeWhileDraining asks clients to close their connection after each
// response once draining is set, so that a load balancer does not keep
// reusing a connection to an instance about to close it.
func closeWhileDraining(a *app.App) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.Draining() {
			w.Header().Set("Connection", "close")
		}
		a.Handler.ServeHTTP(w, r)
	})
}

// browsable turns a listen address into one a browser can open.
func browsable(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		if ok {
			return fmt.Sprintf("localhost:%d", tcp.Port)
		}
		return a.String()
	}
	return a.String()
}

// templateFS picks the embedded templates, or in development the files on
// disk, re-read on every request so that edits show without a restart.
func templateFS(cfg config.Config) (fs.FS, bool) {
	if !cfg.Production() {
		if st, err := os.Stat("templates/pages"); err == nil && st.IsDir() {
			return os.DirFS("templates"), true
		}
	}
	return templates.FS, false
}

// healthcheck asks the local server for /healthz; the container healthcheck
// uses it because the image has no shell or curl.
func healthcheck(ctx context.Context, getenv func(string) string) error {
	port := getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz: %s", resp.Status)
	}
	return nil
}
