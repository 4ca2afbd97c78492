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
	"sync/atomic"
	"time"

	redigo "github.com/gomodule/redigo/redis"
	"go.mongodb.org/mongo-driver/event"
	mongodriver "go.mongodb.org/mongo-driver/mongo"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/mongo"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
	"github.com/gatehouse/gatehouse/static"
	"github.com/gatehouse/gatehouse/templates"
	"github.com/gatehouse/gatehouse/web"
)

// embeddedServices starts stand-ins for the services whose URL is empty, in
// development. It is set only in builds with the dev tag (make run), so the
// production binary links neither FerretDB nor miniredis.
var embeddedServices func(ctx context.Context, cfg *config.Config, logger *slog.Logger) (stop func(), err error)

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.Production() {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	logger := newLogger(cfg, stdout)
	logger.Info("starting gatehouse", "config", cfg.String())

	if (cfg.RedisURL == "" && len(cfg.RedisSentinelAddrs) == 0) || cfg.MongoURI == "" {
		if embeddedServices == nil {
			return errors.New("REDIS_URL (or REDIS_SENTINEL_ADDRS) and MONGO_URI must be set in this build; " +
				"`make run` (go run -tags dev) starts embedded services when they are empty")
		}
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

	pool, err := newRedisPool(cfg)
	if err != nil {
		return err
	}
	defer pool.Close()

	m := metrics.New()
	m.RedisPool(pool)
	client, users, closeMongo, err := openUsers(ctx, cfg, m.MongoMonitor())
	if err != nil {
		return err
	}
	defer closeMongo()
	sm := session.New(pool, session.Options{
		Lifetime:   cfg.SessionLifetime,
		CookieName: cfg.CookieName,
		Secure:     cfg.CookieSecure,
		MaxActive:  cfg.RedisMaxActive,
	})

	tmpl, reload := templateFS(cfg)
	// draining is set once shutdown begins: /readyz then fails.
	var draining atomic.Bool
	handler, err := web.NewServer(web.Deps{
		Logger:       logger,
		Sessions:     sm,
		Users:        users.LimitHashing(cfg.PasswordHashConcurrency, cfg.LoginQueueTimeout),
		SessionIndex: session.NewIndex(pool, time.Now),
		Policy: web.SessionPolicy{
			Lifetime:         cfg.SessionLifetime,
			RememberLifetime: cfg.RememberMeLifetime,
			IdleTimeout:      cfg.SessionIdleTimeout,
			TouchInterval:    cfg.SessionTouchInterval,
			ReauthWindow:     cfg.ReauthWindow,
		},
		Templates:          tmpl,
		ReloadTemplates:    reload,
		Static:             static.FS,
		Production:         cfg.Production(),
		CORSAllowedOrigins: cfg.CORSAllowedOrigins,
		LoginLimiter: redis.NewLoginLimiter(pool, redis.LoginLimits{
			MaxPerAccount: cfg.LoginMaxFailuresAccount,
			MaxPerIP:      cfg.LoginMaxFailuresIP,
			Window:        cfg.LoginFailureWindow,
		}, time.Now),
		SessionGuesses:    redis.NewWindowCounter(pool, "gatehouse:guess:", cfg.SessionGuessWindow),
		SessionGuessLimit: cfg.SessionGuessLimit,
		TrustedProxies:    cfg.TrustedProxies,
		ClientIPHeader:    cfg.ClientIPHeader,
		Metrics:           m,
		Checks: []web.Check{
			{Name: "redis", Ping: func(ctx context.Context) error { return redis.Ping(ctx, pool, cfg.RedisTimeout) }},
			{Name: "mongodb", Ping: func(ctx context.Context) error { return mongo.Ping(ctx, client, cfg.MongoTimeout) }},
			{Name: "shutdown", Ping: func(context.Context) error {
				if draining.Load() {
					return web.ErrDraining
				}
				return nil
			}},
		},
	})
	if err != nil {
		return err
	}

	stopInternal := startInternal(cfg.MetricsAddr, m, logger)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		stopInternal(ctx)
	}()

	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr(), err)
	}
	srv := &http.Server{
		Handler:           closeWhileDraining(handler, &draining),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("listening", "addr", ln.Addr().String(), "url", "http://"+browsable(ln.Addr()))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	// Drain: /readyz answers 503 so that load balancers stop sending
	// requests here, while those that still arrive are served.
	draining.Store(true)
	if cfg.ShutdownDrain > 0 {
		logger.Info("draining", "for", cfg.ShutdownDrain)
		t := time.NewTimer(cfg.ShutdownDrain)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return fmt.Errorf("serve: %w", err)
		}
	}

	// A fresh context: the parent is already cancelled.
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// newRedisPool follows the master through Redis Sentinel when
// REDIS_SENTINEL_ADDRS is set, and dials REDIS_URL otherwise.
func newRedisPool(cfg config.Config) (*redigo.Pool, error) {
	o := redis.Options{Timeout: cfg.RedisTimeout, MaxActive: cfg.RedisMaxActive}
	if len(cfg.RedisSentinelAddrs) > 0 {
		return redis.NewSentinelPool(redis.Sentinel{
			Addrs:      cfg.RedisSentinelAddrs,
			MasterName: cfg.RedisSentinelMaster,
			Password:   cfg.RedisSentinelPassword,
		}, cfg.RedisURL, o)
	}
	return redis.NewPool(cfg.RedisURL, o)
}

// closeWhileDraining asks clients to close their connection after each
// response once draining is set, so that a load balancer does not keep
// reusing a connection to an instance about to close it.
func closeWhileDraining(h http.Handler, draining *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
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

// openUsers connects to MongoDB, makes sure the users collection has its
// indexes, and returns the client, the user service on it (argon2id with
// the OWASP parameters) and a close function whose wait is bounded.
func openUsers(ctx context.Context, cfg config.Config, monitor ...*event.CommandMonitor) (*mongodriver.Client, *user.Service, func(), error) {
	client, err := mongo.Connect(ctx, cfg.MongoURI, cfg.MongoTimeout, monitor...)
	if err != nil {
		return nil, nil, nil, err
	}
	closeClient := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Disconnect(dctx)
	}
	repo := mongo.NewUsers(client.Database(cfg.MongoDB), cfg.MongoTimeout)
	if err := repo.EnsureIndexes(ctx); err != nil {
		closeClient()
		return nil, nil, nil, err
	}
	hasher, err := password.New(password.OWASP)
	if err != nil {
		closeClient()
		return nil, nil, nil, err
	}
	return client, user.NewService(repo, hasher, time.Now), closeClient, nil
}
