// Package app builds Gatehouse from a config.Config: the Redis pool
// (through Sentinel when configured, or a Redis Cluster client), MongoDB and the user service (with
// the Pwned Passwords check when configured), the
// session store, index and limiters, the metrics, and the web handler.
// The server and the user commands (cmd/gatehouse), the web tests and the
// benchmarks all build the application here, so that they cannot drift
// apart (benbjohnson/wtf's Main).
//
// It starts no listener and no embedded server: cmd/gatehouse does, around
// it.
package app

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	redigo "github.com/gomodule/redigo/redis"
	mongodriver "go.mongodb.org/mongo-driver/mongo"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/mail"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/mongo"
	"github.com/gatehouse/gatehouse/internal/passkey"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/pwned"
	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/token"
	"github.com/gatehouse/gatehouse/internal/user"
	"github.com/gatehouse/gatehouse/static"
	"github.com/gatehouse/gatehouse/templates"
	"github.com/gatehouse/gatehouse/web"
)

// Options are what a Config does not say: the seams tests and the
// development server use. The zero value is production's choice for each.
type Options struct {
	// Logger receives every log line. Optional: slog.Default().
	Logger *slog.Logger
	// Now is the clock. Optional: time.Now.
	Now func() time.Time
	// Hashing is argon2id's cost. Optional: password.OWASP. Tests pass a
	// cheap one.
	Hashing *password.Params
	// Templates is the template tree. Optional: the embedded templates.FS.
	// ReloadTemplates re-reads them on every request (development).
	Templates       fs.FS
	ReloadTemplates bool
	// WrapUsers, when set, wraps the user service the web handler gets;
	// tests inject faults with it.
	WrapUsers func(web.Users) web.Users
	// DevMailbox is the development SMTP server's store, which dev builds
	// show on /dev/mail. Optional.
	DevMailbox web.DevMailbox
	// Mail tunes the mail queue (tests shorten its waits); MaxAttempts
	// and RetryBase come from the Config unless set here. Optional.
	Mail mail.Options
}

// App is one instance of Gatehouse, ready to serve: Handler is its root
// http.Handler. The other fields are its parts, for commands and tests
// that work beside it. Close releases them.
type App struct {
	Config config.Config
	Logger *slog.Logger
	// Redis is the pool of a single Redis or of the master Sentinel
	// names; nil on a Redis Cluster. RedisConns serves keys either way.
	Redis      *redigo.Pool
	RedisConns redis.Conns
	Mongo      *mongodriver.Client
	Users      *user.Service // hashing bounded by PASSWORD_HASH_CONCURRENCY
	Index      *session.Index
	Metrics    *metrics.Metrics
	Handler    http.Handler
	// With e-mail on (MAIL_ENABLED and an SMTP_URL): the mail queue, the
	// flows, and the worker's handler; StartMail runs the worker. Nil
	// with e-mail off.
	MailQueue *mail.Queue
	Accounts  *account.Service
	composer  *account.Composer
	// SecondFactors is the authenticator-app factor.
	SecondFactors *mfa.Service
	// factorResets remove one kind of second factor of a user each
	// (ResetSecondFactors).
	factorResets []func(ctx context.Context, userID string) error

	draining atomic.Bool
	closers  []func()
}

// New connects to Redis (lazily: the pool dials on first use) and MongoDB
// (making sure of its indexes), and builds the web handler. It fails on a
// configuration the parts refuse, or when MongoDB does not answer within
// MONGO_TIMEOUT.
func New(ctx context.Context, cfg config.Config, o Options) (_ *App, err error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Hashing == nil {
		o.Hashing = &password.OWASP
	}
	if o.Templates == nil {
		o.Templates = templates.FS
	}
	a := &App{Config: cfg, Logger: o.Logger, Metrics: metrics.New()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()

	if len(cfg.RedisClusterAddrs) > 0 {
		cluster, err := redis.NewCluster(cfg.RedisClusterAddrs, cfg.RedisURL, redis.Options{Timeout: cfg.RedisTimeout, MaxActive: cfg.RedisMaxActive})
		if err != nil {
			return nil, err
		}
		a.RedisConns = cluster
		a.closers = append(a.closers, func() { _ = cluster.Close() })
	} else {
		if a.Redis, err = newRedisPool(cfg); err != nil {
			return nil, err
		}
		a.RedisConns = redis.PoolConns(a.Redis)
		a.closers = append(a.closers, func() { _ = a.Redis.Close() })
		a.Metrics.RedisPool(a.Redis)
	}

	warnIfEvicting(ctx, a.RedisConns, cfg.RedisTimeout, o.Logger)
	warnIfNoTLSProxy(cfg, o.Logger)

	if a.Mongo, err = mongo.Connect(ctx, cfg.MongoURI, cfg.MongoTimeout, a.Metrics.MongoMonitor()); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Mongo.Disconnect(dctx)
	})
	repo := mongo.NewUsers(a.Mongo.Database(cfg.MongoDB), cfg.MongoTimeout, o.Logger)
	a.closers = append(a.closers, repo.Close)
	if err := repo.EnsureIndexes(ctx); err != nil {
		return nil, err
	}
	hasher, err := password.New(*o.Hashing)
	if err != nil {
		return nil, err
	}
	a.Users = user.NewService(repo, hasher, o.Now).LimitHashing(cfg.PasswordHashConcurrency, cfg.LoginQueueTimeout)
	if cfg.PwnedPasswordsURL != "" {
		a.Users.CheckBreaches(pwned.New(cfg.PwnedPasswordsURL, pwned.DefaultTimeout), o.Logger)
	}
	a.Index = session.NewIndexOn(a.RedisConns, o.Now)
	totps := mongo.NewTOTPs(a.Mongo.Database(cfg.MongoDB), cfg.MongoTimeout, o.Logger)
	a.closers = append(a.closers, totps.Close)
	// A code is valid for the step before, its own and the one after:
	// its step must be remembered a little longer than that.
	a.SecondFactors = mfa.NewService(totps, redis.NewTOTPSteps(a.RedisConns, 4*mfa.Period), "Gatehouse", o.Now)
	a.factorResets = append(a.factorResets, a.SecondFactors.Disable)

	var users web.Users = a.Users
	if o.WrapUsers != nil {
		users = o.WrapUsers(users)
	}
	passkeys, err := newPasskeys(ctx, cfg, a.Mongo, a.RedisConns, o)
	if err != nil {
		return nil, err
	}
	var accounts web.Accounts
	if cfg.MailEnabled && cfg.SMTPURL != "" {
		if err := a.newMail(cfg, o); err != nil {
			return nil, err
		}
		accounts = a.Accounts
	}
	a.Handler, err = web.NewServer(web.Deps{
		Logger:       o.Logger,
		SessionStore: session.NewStoreOn(a.RedisConns, cfg.RedisMaxActive),
		Cookie:       web.Cookie{Name: cfg.CookieName, Secure: cfg.CookieSecure},
		SessionIndex: a.Index,
		Policy: session.Policy{
			Lifetime:         cfg.SessionLifetime,
			RememberLifetime: cfg.RememberMeLifetime,
			IdleTimeout:      cfg.SessionIdleTimeout,
			TouchInterval:    cfg.SessionTouchInterval,
			ReauthWindow:     cfg.ReauthWindow,
		},
		Users:              users,
		Accounts:           accounts,
		Passkeys:           passkeys,
		PasskeyBegins:      redis.NewWindowCounter(a.RedisConns, "gatehouse:webauthn:begin:", time.Minute),
		PasswordResetTTL:   cfg.PasswordResetTTL,
		DevMailbox:         o.DevMailbox,
		Templates:          o.Templates,
		ReloadTemplates:    o.ReloadTemplates,
		Static:             static.FS,
		Production:         cfg.Production(),
		CORSAllowedOrigins: cfg.CORSAllowedOrigins,
		Now:                o.Now,
		Metrics:            a.Metrics,
		Secret:             secretKey(cfg, a.RedisConns),
		AdmitPasswordCheck: a.Users.Admit,
		LoginLimiter: redis.NewLoginLimiter(a.RedisConns, redis.LoginLimits{
			MaxPerAccount: cfg.LoginMaxFailuresAccount,
			MaxPerIP:      cfg.LoginMaxFailuresIP,
			Window:        cfg.LoginFailureWindow,
		}, o.Now),
		TokenGuesses:       redis.NewWindowCounter(a.RedisConns, "gatehouse:guess:", cfg.TokenGuessWindow),
		TokenGuessLimit:    cfg.TokenGuessLimit,
		Signups:            redis.NewWindowCounter(a.RedisConns, "gatehouse:signup:", cfg.SignupWindow),
		SignupLimit:        cfg.SignupMaxPerIP,
		TrustedProxies:     cfg.TrustedProxies,
		IPv6Prefix:         cfg.LoginIPv6Prefix,
		MaxSessionsPerUser: cfg.MaxSessionsPerUser,
		SecondFactors:      a.SecondFactors,
		Require2FARoles:    cfg.Require2FARoles,
		ClientIPHeader:     cfg.ClientIPHeader,
		Checks: []web.Check{
			{Name: "redis", Ping: func(ctx context.Context) error { return redis.Ready(ctx, a.RedisConns, cfg.RedisTimeout) }},
			{Name: "mongodb", Ping: func(ctx context.Context) error { return mongo.Ping(ctx, a.Mongo, cfg.MongoTimeout) }},
			{Name: "shutdown", Ping: func(context.Context) error {
				if a.draining.Load() {
					return web.ErrDraining
				}
				return nil
			}},
		},
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// ResetSecondFactors removes every second factor of userID, for
// `gatehouse user reset-2fa`, and mails the user a notice when mail is on.
func (a *App) ResetSecondFactors(ctx context.Context, userID string) error {
	for _, reset := range a.factorResets {
		if err := reset(ctx, userID); err != nil {
			return err
		}
	}
	if a.Accounts != nil {
		return a.Accounts.Notify(ctx, account.KindSecondFactor, userID, map[string]string{
			"change": "removed", "method": "authenticator app and passkeys, reset by an administrator", "ip": "local"})
	}
	return nil
}

// newMail builds the e-mail parts: the queue on Redis Streams, the
// single-use tokens, the SMTP sender, the flows and the worker's handler.
func (a *App) newMail(cfg config.Config, o Options) error {
	sender, err := mail.NewSender(cfg.SMTPURL, cfg.MailFrom, 20*time.Second)
	if err != nil {
		return err
	}
	mo := o.Mail
	if mo.MaxAttempts == 0 {
		mo.MaxAttempts = cfg.MailMaxAttempts
	}
	if mo.RetryBase == 0 {
		mo.RetryBase = cfg.MailRetryBase
	}
	mo.Logger, mo.Observe, mo.Now = o.Logger, a.Metrics.Mail, o.Now
	a.MailQueue = mail.NewQueue(a.Redis, mo)
	tokens := token.NewStore(a.Redis)
	a.Accounts = account.NewService(a.Users, tokens, a.MailQueue, cfg.PasswordResetTTL, o.Now, o.Logger)
	base := cfg.PublicURL
	a.composer, err = account.NewComposer(o.Templates, a.Users, tokens, sender, func() string { return base }, cfg.PasswordResetTTL)
	return err
}

// newPasskeys builds the passkey service: credentials in MongoDB's
// passkeys collection, ceremony challenges in Redis (single-key commands,
// so a Redis Cluster serves them too), the relying party from PUBLIC_URL.
// Without PUBLIC_URL (a development server that did not fill it in from
// its listen address), it is http://localhost:PORT; with PORT=0 as well
// there is no origin to name, and passkeys are off (nil), as they are
// when PUBLIC_URL's host is an IP address other than loopback.
func newPasskeys(ctx context.Context, cfg config.Config, client *mongodriver.Client, conns redis.Conns, o Options) (web.Passkeys, error) {
	public := cfg.PublicURL
	if public == "" {
		if cfg.Port == 0 {
			o.Logger.Info("passkeys are off: no PUBLIC_URL, and PORT=0 names no origin")
			return nil, nil
		}
		public = fmt.Sprintf("http://localhost:%d", cfg.Port)
	}
	repo := mongo.NewPasskeys(client.Database(cfg.MongoDB), cfg.MongoTimeout)
	if err := repo.EnsureIndexes(ctx); err != nil {
		return nil, err
	}
	challenges := redis.NewChallenges(conns, "gatehouse:webauthn:challenge:", o.Now)
	svc, err := passkey.New(public, "Gatehouse", repo, challenges, o.Now)
	if err != nil {
		// Such as an IP address other than loopback, which mails can
		// use but a WebAuthn relying party id cannot.
		o.Logger.Warn("passkeys are off: PUBLIC_URL names no relying party", "err", err)
		return nil, nil
	}
	return svc, nil
}

// StartMail runs the mail worker until stop is called: it sends what any
// instance queued, and claims what an instance that died left. stop waits
// for the mail in hand. With e-mail off it does nothing.
func (a *App) StartMail() (stop func()) {
	if a.MailQueue == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.MailQueue.Run(ctx, a.composer.Handle)
	}()
	return sync.OnceFunc(func() { cancel(); <-done })
}

// Drain makes /readyz answer 503 "draining", so that load balancers stop
// sending requests here before the server shuts down.
func (a *App) Drain() { a.draining.Store(true) }

// Draining reports whether Drain was called.
func (a *App) Draining() bool { return a.draining.Load() }

// Close closes MongoDB (waiting at most 5 s) and the Redis pool.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// warnIfEvicting warns when Redis may evict keys when full: sessions would
// then disappear silently, signing people out. noeviction makes a full
// Redis refuse writes instead, which the app answers with 503. Redis being
// unreachable at start-up, or refusing CONFIG, is only noted.
func warnIfEvicting(ctx context.Context, conns redis.Conns, timeout time.Duration, logger *slog.Logger) {
	policy, err := redis.EvictionPolicy(ctx, conns, timeout)
	switch {
	case err != nil:
		logger.Info("could not read Redis's maxmemory-policy", "err", err)
	case policy != "noeviction":
		logger.Warn("Redis may evict keys when full, and sessions would then vanish: set maxmemory-policy noeviction",
			"maxmemory-policy", policy)
	}
}

// warnIfNoTLSProxy warns when production listens without a proxy in
// TRUSTED_PROXIES. Gatehouse speaks plain HTTP and expects a proxy that
// terminates TLS in front of it; its session cookie is Secure, which a
// browser drops on a plain-HTTP page at any host but localhost, so
// without TLS nobody can stay signed in (the login's cookie check then
// explains it to the person, web/cookiecheck.go).
func warnIfNoTLSProxy(cfg config.Config, logger *slog.Logger) {
	if cfg.Production() && len(cfg.TrustedProxies) == 0 {
		logger.Warn("production without TRUSTED_PROXIES: browsers drop the Secure session cookie on plain HTTP, "+
			"so serve Gatehouse behind a proxy that terminates TLS and list the proxy's address in TRUSTED_PROXIES",
			"listen", cfg.Addr())
	}
}

// secretKey returns the key that signs device cookies: SHA-256 of
// SECRET_KEY when it is set, else a random key kept in Redis under
// gatehouse:secret and shared by every instance, fetched when first needed
// and then remembered (a failure is retried on the next call).
func secretKey(cfg config.Config, conns redis.Conns) func(context.Context) ([]byte, error) {
	if cfg.SecretKey != "" {
		sum := sha256.Sum256([]byte("gatehouse secret v1\x00" + cfg.SecretKey))
		return func(context.Context) ([]byte, error) { return sum[:], nil }
	}
	var (
		mu  sync.Mutex
		key []byte
	)
	return func(ctx context.Context) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if key != nil {
			return key, nil
		}
		k, err := redis.SharedSecret(ctx, conns, "gatehouse:secret", cfg.RedisTimeout)
		if err != nil {
			return nil, err
		}
		key = k
		return key, nil
	}
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
