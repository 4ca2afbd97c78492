// Package config reads Gatehouse's settings from the environment.
//
// Every setting has a development default so that `make run` works with no
// configuration at all; production refuses to start without the settings that
// have no safe default. Invalid values stop start-up with the variable's name.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Environments.
const (
	Development = "development"
	Production  = "production"
)

// Config holds every setting. The zero value is not useful: use Load.
type Config struct {
	Env  string // APP_ENV: development or production
	Host string // HOST: interface to listen on
	Port int    // PORT: 0 picks a free port

	RedisURL string // REDIS_URL: empty in development starts an embedded Redis
	// RedisTimeout bounds dialling, reading and writing each Redis command.
	RedisTimeout   time.Duration // REDIS_TIMEOUT
	RedisMaxActive int           // REDIS_MAX_ACTIVE: pool size
	// With RedisSentinelAddrs set, the pool follows the master that Redis
	// Sentinel names, and REDIS_URL (optional then) only supplies the
	// master's password, database and TLS.
	RedisSentinelAddrs    []string // REDIS_SENTINEL_ADDRS: host:port of each sentinel
	RedisSentinelMaster   string   // REDIS_SENTINEL_MASTER: the monitored master's name
	RedisSentinelPassword string   // REDIS_SENTINEL_PASSWORD: the sentinels' own password
	// With RedisClusterAddrs set, the app is on a Redis Cluster, found
	// through these seed nodes; REDIS_URL (optional then) only supplies
	// the nodes' password and TLS.
	RedisClusterAddrs []string // REDIS_CLUSTER_ADDRS: host:port of seed nodes

	MongoURI     string        // MONGO_URI: empty in development starts an embedded FerretDB
	MongoDB      string        // MONGO_DB
	MongoTimeout time.Duration // MONGO_TIMEOUT: deadline of each MongoDB operation

	SessionLifetime    time.Duration // SESSION_LIFETIME: absolute lifetime
	SessionIdleTimeout time.Duration // SESSION_IDLE_TIMEOUT
	RememberMeLifetime time.Duration // REMEMBER_ME_LIFETIME
	// SessionTouchInterval bounds how often a request refreshes the idle
	// deadline: in between, a page view is one Redis read.
	SessionTouchInterval time.Duration // SESSION_TOUCH_INTERVAL
	ReauthWindow         time.Duration // REAUTH_WINDOW
	CookieName           string        // SESSION_COOKIE_NAME
	CookieSecure         bool          // COOKIE_SECURE

	CORSAllowedOrigins []string // CORS_ALLOWED_ORIGINS

	// Require2FARoles must sign in with two factors: users of these roles
	// without one are sent to enrolment after their password.
	Require2FARoles []string // REQUIRE_2FA_ROLES

	// PasswordHashConcurrency bounds argon2id hashes at once (about 19 MiB
	// each); LoginQueueTimeout is how long a login waits for a slot
	// before a 503.
	PasswordHashConcurrency int           // PASSWORD_HASH_CONCURRENCY
	LoginQueueTimeout       time.Duration // LOGIN_QUEUE_TIMEOUT

	// Login throttling (see README, "Login throttling").
	LoginMaxFailuresAccount int           // LOGIN_MAX_FAILURES_ACCOUNT
	LoginMaxFailuresIP      int           // LOGIN_MAX_FAILURES_IP
	LoginFailureWindow      time.Duration // LOGIN_FAILURE_WINDOW
	// Requests whose session cookie names no live session (token
	// guesses) tolerated per IP and window.
	TokenGuessLimit  int           // TOKEN_GUESS_LIMIT (formerly SESSION_GUESS_LIMIT)
	TokenGuessWindow time.Duration // TOKEN_GUESS_WINDOW (formerly SESSION_GUESS_WINDOW)

	// Sign-ups allowed per IP and window (attempts that pass the form's
	// checks), so that a flood of them cannot starve sign-ins.
	SignupMaxPerIP int           // SIGNUP_MAX_PER_IP
	SignupWindow   time.Duration // SIGNUP_WINDOW

	// MaxSessionsPerUser caps a user's live sessions: signing in past it
	// ends the least recently used one.
	MaxSessionsPerUser int // MAX_SESSIONS_PER_USER
	// LoginIPv6Prefix is how many leading bits of an IPv6 address name one
	// client for the per-IP limits: a household gets a /64 or more.
	LoginIPv6Prefix int // LOGIN_IPV6_PREFIX
	// PprofEnabled serves /debug/pprof/ on the metrics listener.
	PprofEnabled bool // PPROF_ENABLED

	// SecretKey keys the MAC of device cookies. Empty: a random key kept
	// in Redis, shared by every instance.
	SecretKey string // SECRET_KEY

	// TrustedProxies are the CIDRs whose client-IP header is believed.
	TrustedProxies []netip.Prefix // TRUSTED_PROXIES
	ClientIPHeader string         // CLIENT_IP_HEADER: X-Forwarded-For or X-Real-IP

	// PwnedPasswordsURL, when set, is a Pwned Passwords range API that new
	// passwords are checked against; empty: no check.
	PwnedPasswordsURL string // PWNED_PASSWORDS_URL

	// E-mail (verified addresses, forgot password, security notices).
	// MailEnabled false turns it all off: no address fields, no "forgot
	// password". SMTPURL empty in development starts an in-process SMTP
	// server whose messages /dev/mail shows (dev builds).
	MailEnabled bool   // MAIL_ENABLED
	SMTPURL     string // SMTP_URL: smtp://user:pass@host:587 (STARTTLS required), smtps://..., ?starttls=opportunistic
	MailFrom    string // MAIL_FROM: the sender, an RFC 5322 mailbox
	// PublicURL is the external base URL of links in mails, and its host
	// the passkeys' relying party id (internal/passkey); empty in
	// development: the listen address.
	PublicURL        string        // PUBLIC_URL
	MailMaxAttempts  int           // MAIL_MAX_ATTEMPTS: failed sends before the dead-letter stream
	MailRetryBase    time.Duration // MAIL_RETRY_BASE: the wait after a first failure, doubling up to 15m
	PasswordResetTTL time.Duration // PASSWORD_RESET_TTL: how long a reset link works

	// MetricsAddr serves /metrics and /debug/pprof/; empty disables.
	MetricsAddr string // METRICS_ADDR

	DataDir  string     // DATA_DIR: where embedded development services keep their files
	LogLevel slog.Level // LOG_LEVEL
	// ShutdownTimeout bounds the wait for in-flight requests on SIGTERM.
	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT
	// ShutdownDrain is how long /readyz answers 503 before the listener
	// closes, so that load balancers stop sending traffic first.
	ShutdownDrain time.Duration // SHUTDOWN_DRAIN

	// Deprecated lists the old variable names that were read, such as
	// "SESSION_GUESS_LIMIT (now TOKEN_GUESS_LIMIT)", for a start-up
	// warning.
	Deprecated []string
}

// renamed maps each variable to the name it had before, which is still
// read when the new one is unset.
var renamed = map[string]string{
	"TOKEN_GUESS_LIMIT":  "SESSION_GUESS_LIMIT",
	"TOKEN_GUESS_WINDOW": "SESSION_GUESS_WINDOW",
}

// Production reports whether the app runs in production mode.
func (c Config) Production() bool { return c.Env == Production }

// Addr is the listen address.
func (c Config) Addr() string { return fmt.Sprintf("%s:%d", c.Host, c.Port) }

// Load reads the configuration through getenv (os.Getenv in main, a map in
// tests). It returns every problem it finds, each naming its variable.
func Load(getenv func(string) string) (Config, error) {
	c := Config{}
	p := parser{getenv: func(key string) string {
		v := getenv(key)
		if old := renamed[key]; v == "" && old != "" {
			if v = getenv(old); v != "" {
				c.Deprecated = append(c.Deprecated, old+" (now "+key+")")
			}
		}
		return v
	}}
	c.Env = p.str("APP_ENV", Development)
	if c.Env != Development && c.Env != Production {
		p.fail("APP_ENV", c.Env, "must be development or production")
	}
	prod := c.Env == Production

	c.Host = p.str("HOST", "")
	c.Port = p.integer("PORT", 8080, 0, 65535)
	c.RedisURL = p.str("REDIS_URL", "")
	c.RedisSentinelAddrs = p.list("REDIS_SENTINEL_ADDRS")
	c.RedisSentinelMaster = p.str("REDIS_SENTINEL_MASTER", "mymaster")
	c.RedisSentinelPassword = p.str("REDIS_SENTINEL_PASSWORD", "")
	c.RedisClusterAddrs = p.list("REDIS_CLUSTER_ADDRS")
	c.RedisTimeout = p.duration("REDIS_TIMEOUT", time.Second, 10*time.Millisecond, 30*time.Second)
	c.RedisMaxActive = p.integer("REDIS_MAX_ACTIVE", 64, 1, 10000)
	c.MongoURI = p.str("MONGO_URI", "")
	c.MongoDB = p.str("MONGO_DB", "gatehouse")
	c.MongoTimeout = p.duration("MONGO_TIMEOUT", 3*time.Second, 10*time.Millisecond, time.Minute)
	c.SessionLifetime = p.duration("SESSION_LIFETIME", 24*time.Hour, time.Minute, 366*24*time.Hour)
	c.SessionIdleTimeout = p.duration("SESSION_IDLE_TIMEOUT", 30*time.Minute, time.Minute, 366*24*time.Hour)
	c.RememberMeLifetime = p.duration("REMEMBER_ME_LIFETIME", 30*24*time.Hour, time.Hour, 400*24*time.Hour)
	c.SessionTouchInterval = p.duration("SESSION_TOUCH_INTERVAL", time.Minute, time.Second, time.Hour)
	c.ReauthWindow = p.duration("REAUTH_WINDOW", 10*time.Minute, 30*time.Second, 24*time.Hour)
	c.CookieSecure = p.boolean("COOKIE_SECURE", prod)
	defName := "gatehouse_session"
	if prod && c.CookieSecure {
		defName = "__Host-gatehouse_session"
	}
	c.CookieName = p.str("SESSION_COOKIE_NAME", defName)
	c.CORSAllowedOrigins = p.list("CORS_ALLOWED_ORIGINS")
	c.Require2FARoles = p.list("REQUIRE_2FA_ROLES")
	// Half the Go scheduler's processors: argon2id takes a whole one per
	// hash, and page views must keep the rest under a login flood.
	c.PasswordHashConcurrency = p.integer("PASSWORD_HASH_CONCURRENCY", max(1, runtime.GOMAXPROCS(0)/2), 1, 1024)
	c.LoginQueueTimeout = p.duration("LOGIN_QUEUE_TIMEOUT", 2*time.Second, time.Millisecond, time.Minute)
	c.LoginMaxFailuresAccount = p.integer("LOGIN_MAX_FAILURES_ACCOUNT", 5, 1, 1000)
	c.LoginMaxFailuresIP = p.integer("LOGIN_MAX_FAILURES_IP", 50, 1, 100000)
	c.LoginFailureWindow = p.duration("LOGIN_FAILURE_WINDOW", 15*time.Minute, time.Second, 7*24*time.Hour)
	c.TokenGuessLimit = p.integer("TOKEN_GUESS_LIMIT", 100, 1, 1000000)
	c.TokenGuessWindow = p.duration("TOKEN_GUESS_WINDOW", 15*time.Minute, time.Second, 7*24*time.Hour)
	c.SignupMaxPerIP = p.integer("SIGNUP_MAX_PER_IP", 10, 1, 100000)
	c.SignupWindow = p.duration("SIGNUP_WINDOW", time.Hour, time.Second, 7*24*time.Hour)
	c.MaxSessionsPerUser = p.integer("MAX_SESSIONS_PER_USER", 50, 1, 10000)
	c.LoginIPv6Prefix = p.integer("LOGIN_IPV6_PREFIX", 64, 32, 128)
	c.PprofEnabled = p.boolean("PPROF_ENABLED", false)
	c.SecretKey = p.str("SECRET_KEY", "")
	if c.SecretKey != "" && len(c.SecretKey) < 32 {
		p.fail("SECRET_KEY", "(hidden)", "must be at least 32 characters (for example: openssl rand -base64 32)")
	}
	c.TrustedProxies = p.prefixes("TRUSTED_PROXIES")
	c.ClientIPHeader = p.str("CLIENT_IP_HEADER", "X-Forwarded-For")
	if h := http.CanonicalHeaderKey(c.ClientIPHeader); h != "X-Forwarded-For" && h != "X-Real-Ip" {
		p.fail("CLIENT_IP_HEADER", c.ClientIPHeader, "must be X-Forwarded-For or X-Real-IP")
	}
	c.PwnedPasswordsURL = strings.TrimSuffix(p.str("PWNED_PASSWORDS_URL", ""), "/")
	c.MailEnabled = p.boolean("MAIL_ENABLED", true)
	c.SMTPURL = p.str("SMTP_URL", "")
	c.MailFrom = p.str("MAIL_FROM", "")
	c.PublicURL = strings.TrimSuffix(p.str("PUBLIC_URL", ""), "/")
	c.MailMaxAttempts = p.integer("MAIL_MAX_ATTEMPTS", 10, 1, 100)
	c.MailRetryBase = p.duration("MAIL_RETRY_BASE", 10*time.Second, 10*time.Millisecond, time.Hour)
	c.PasswordResetTTL = p.duration("PASSWORD_RESET_TTL", 30*time.Minute, time.Minute, 24*time.Hour)
	c.MetricsAddr = p.str("METRICS_ADDR", "127.0.0.1:9090")
	switch strings.ToLower(c.MetricsAddr) {
	case "off", "none", "-":
		// The environment cannot tell "set to empty" from "unset".
		c.MetricsAddr = ""
	default:
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			p.fail("METRICS_ADDR", c.MetricsAddr, "must be host:port (127.0.0.1:9090), or off")
		}
	}
	c.DataDir = p.str("DATA_DIR", "data")
	c.LogLevel = p.level("LOG_LEVEL", slog.LevelInfo)
	c.ShutdownTimeout = p.duration("SHUTDOWN_TIMEOUT", 15*time.Second, 0, 10*time.Minute)
	defDrain := time.Duration(0)
	if prod {
		defDrain = 5 * time.Second
	}
	c.ShutdownDrain = p.duration("SHUTDOWN_DRAIN", defDrain, 0, 10*time.Minute)

	if prod && c.RedisURL == "" && len(c.RedisSentinelAddrs) == 0 && len(c.RedisClusterAddrs) == 0 {
		p.fail("REDIS_URL", "", "(or REDIS_SENTINEL_ADDRS or REDIS_CLUSTER_ADDRS) is required in production")
	}
	if prod && c.MongoURI == "" {
		p.fail("MONGO_URI", "", "is required in production")
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			p.fail("REDIS_URL", "(hidden)", "must look like redis://[:password@]host:port[/db] or rediss://...")
		}
	}
	for _, a := range c.RedisSentinelAddrs {
		host, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			p.fail("REDIS_SENTINEL_ADDRS", a, "each address must look like host:port")
		}
	}
	for _, a := range c.RedisClusterAddrs {
		host, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			p.fail("REDIS_CLUSTER_ADDRS", a, "each address must look like host:port")
		}
	}
	if len(c.RedisClusterAddrs) > 0 && len(c.RedisSentinelAddrs) > 0 {
		p.fail("REDIS_CLUSTER_ADDRS", "", "and REDIS_SENTINEL_ADDRS cannot both be set: a Redis Cluster fails over by itself")
	}
	if len(c.RedisClusterAddrs) > 0 && c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err == nil && strings.Trim(u.Path, "/") != "" && strings.Trim(u.Path, "/") != "0" {
			p.fail("REDIS_URL", "(hidden)", "names a database, but a Redis Cluster has only database 0")
		}
	}
	if !validSentinelName(c.RedisSentinelMaster) {
		p.fail("REDIS_SENTINEL_MASTER", c.RedisSentinelMaster, "must be 1-64 characters without spaces or quotes")
	}
	if c.RedisSentinelPassword != "" && len(c.RedisSentinelAddrs) == 0 {
		p.fail("REDIS_SENTINEL_PASSWORD", "", "is set but REDIS_SENTINEL_ADDRS is empty")
	}
	if c.MailEnabled {
		switch {
		case prod && c.SMTPURL == "":
			p.fail("SMTP_URL", "", "is required in production, or set MAIL_ENABLED=false to run without e-mail (no password reset by e-mail, no notices)")
		case c.SMTPURL != "":
			if msg := checkSMTPURL(c.SMTPURL); msg != "" {
				p.fail("SMTP_URL", "(hidden)", msg)
			}
		}
		if prod && c.MailFrom == "" {
			p.fail("MAIL_FROM", "", "is required in production: the sender of Gatehouse's mail, such as Gatehouse <noreply@example.com>")
		}
		if prod && c.PublicURL == "" {
			p.fail("PUBLIC_URL", "", "is required in production: the external base URL that links in mails use, such as https://login.example.com")
		}
	}
	if c.MailFrom == "" {
		c.MailFrom = "Gatehouse <noreply@localhost>"
	}
	if c.MailFrom != "" {
		if a, err := mail.ParseAddress(c.MailFrom); err != nil || !strings.Contains(a.Address, "@") {
			p.fail("MAIL_FROM", c.MailFrom, "must be an address such as Gatehouse <noreply@example.com>")
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
			p.fail("PUBLIC_URL", c.PublicURL, "must look like https://login.example.com (http or https, a host, an optional path)")
		}
	}
	if c.MongoURI != "" {
		if _, _, _, err := mongoURIParts(c.MongoURI); err != nil {
			p.fail("MONGO_URI", "(hidden)", "must be a mongodb:// or mongodb+srv:// connection string, "+
				"such as mongodb://user:pass@host1:27017,host2:27017/?replicaSet=rs0 ("+err.Error()+")")
		}
	}
	if !validDBName(c.MongoDB) {
		p.fail("MONGO_DB", c.MongoDB, "must be 1-63 characters without / \\ . \" $ or spaces")
	}
	if c.SessionIdleTimeout > c.SessionLifetime {
		p.fail("SESSION_IDLE_TIMEOUT", FormatDuration(c.SessionIdleTimeout), "must not exceed SESSION_LIFETIME")
	}
	if c.SessionTouchInterval >= c.SessionIdleTimeout {
		p.fail("SESSION_TOUCH_INTERVAL", FormatDuration(c.SessionTouchInterval), "must be shorter than SESSION_IDLE_TIMEOUT")
	}
	if !validCookieName(c.CookieName) {
		p.fail("SESSION_COOKIE_NAME", c.CookieName, "must be 1-64 letters, digits, '-' or '_'")
	}
	if strings.HasPrefix(c.CookieName, "__Host-") && !c.CookieSecure {
		p.fail("SESSION_COOKIE_NAME", c.CookieName, "a __Host- cookie needs COOKIE_SECURE=true")
	}
	for _, role := range c.Require2FARoles {
		if role != "user" && role != "admin" {
			p.fail("REQUIRE_2FA_ROLES", role, "each role must be user or admin")
		}
	}
	for _, o := range c.CORSAllowedOrigins {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			// A wildcard fails here too: it has no scheme.
			p.fail("CORS_ALLOWED_ORIGINS", o, "each origin must look like https://host[:port]")
		}
	}
	if c.PwnedPasswordsURL != "" {
		// The client appends /range/PREFIX: no query, fragment or
		// credentials to mangle or to leak into logs.
		if u, err := url.Parse(c.PwnedPasswordsURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") ||
			u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
			p.fail("PWNED_PASSWORDS_URL", "(hidden)", "must look like https://api.pwnedpasswords.com (http or https, a host, an optional path)")
		}
	}
	return c, errors.Join(p.errs...)
}

// String describes the configuration for the start-up log, with secrets
// (passwords inside REDIS_URL and MONGO_URI) masked.
func (c Config) String() string {
	return fmt.Sprintf("env=%s addr=%s redis=%s mongo=%s db=%s lifetime=%s idle=%s cookie=%s secure=%t cors=%v "+
		"login_limits=%d/account,%d/ip per %s trusted_proxies=%v mail=%s",
		c.Env, c.Addr(), c.redisString(), redactMongoURI(c.MongoURI), c.MongoDB,
		FormatDuration(c.SessionLifetime), FormatDuration(c.SessionIdleTimeout), c.CookieName, c.CookieSecure, c.CORSAllowedOrigins,
		c.LoginMaxFailuresAccount, c.LoginMaxFailuresIP, FormatDuration(c.LoginFailureWindow), c.TrustedProxies, c.mailString())
}

// checkSMTPURL says what is wrong with an SMTP_URL, or "". It never quotes
// the URL, which may hold a password. internal/mail.ParseURL applies the
// same rules when it builds the client.
func checkSMTPURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return "must look like smtp://user:pass@host:587 (STARTTLS required) or smtps://user:pass@host:465"
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "must have a port from 1 to 65535"
		}
	}
	for k, v := range u.Query() {
		if k != "starttls" || len(v) != 1 || (v[0] != "required" && v[0] != "opportunistic") || (u.Scheme == "smtps" && v[0] == "opportunistic") {
			return "accepts only ?starttls=required or, on smtp://, ?starttls=opportunistic"
		}
	}
	return ""
}

// redisString describes where Redis is, without passwords.
func (c Config) redisString() string {
	if len(c.RedisClusterAddrs) > 0 {
		s := fmt.Sprintf("cluster(addrs=%v", c.RedisClusterAddrs)
		if c.RedisURL != "" {
			s += " url=" + redactURL(c.RedisURL)
		}
		return s + ")"
	}
	if len(c.RedisSentinelAddrs) == 0 {
		return redactURL(c.RedisURL)
	}
	s := fmt.Sprintf("sentinel(master=%s addrs=%v", c.RedisSentinelMaster, c.RedisSentinelAddrs)
	if c.RedisURL != "" {
		s += " url=" + redactURL(c.RedisURL)
	}
	return s + ")"
}

// mailString describes where mail goes, without passwords.
func (c Config) mailString() string {
	if !c.MailEnabled {
		return "off"
	}
	if c.SMTPURL == "" {
		return "(embedded)"
	}
	return redactURL(c.SMTPURL)
}

// redactURL hides the password of a connection string.
func redactURL(s string) string {
	if s == "" {
		return "(embedded)"
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

// validSentinelName accepts what a sentinel configuration file can name a
// master.
func validSentinelName(s string) bool {
	return len(s) > 0 && len(s) <= 64 && !strings.ContainsAny(s, " \t\r\n\"'")
}

func validDBName(s string) bool {
	return len(s) > 0 && len(s) < 64 && !strings.ContainsAny(s, `/\. "$*<>:|?`)
}

func validCookieName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// parser collects errors so that one start-up reports every bad variable.
type parser struct {
	getenv func(string) string
	errs   []error
}

func (p *parser) fail(key, val, why string) {
	if val == "" {
		p.errs = append(p.errs, fmt.Errorf("%s %s", key, why))
		return
	}
	p.errs = append(p.errs, fmt.Errorf("%s=%q %s", key, val, why))
}

func (p *parser) str(key, def string) string {
	if v := strings.TrimSpace(p.getenv(key)); v != "" {
		return v
	}
	return def
}

func (p *parser) integer(key string, def, lo, hi int) int {
	v := p.str(key, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(key, v, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
		return def
	}
	return n
}

func (p *parser) duration(key string, def, lo, hi time.Duration) time.Duration {
	v := p.str(key, "")
	if v == "" {
		return def
	}
	d, err := ParseDuration(v)
	if err != nil || d < lo || d > hi {
		p.fail(key, v, fmt.Sprintf("must be a duration such as 30m or 24h, from %s to %s", FormatDuration(lo), FormatDuration(hi)))
		return def
	}
	return d
}

func (p *parser) boolean(key string, def bool) bool {
	v := p.str(key, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(key, v, "must be true or false")
		return def
	}
	return b
}

func (p *parser) list(key string) []string {
	var out []string
	for _, s := range strings.Split(p.getenv(key), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, strings.TrimSuffix(s, "/"))
		}
	}
	return out
}

func (p *parser) prefixes(key string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range p.list(key) {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			// A bare address means just that address.
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil {
				p.fail(key, s, "must be a comma-separated list of CIDRs such as 10.0.0.0/8")
				continue
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		out = append(out, pfx.Masked())
	}
	return out
}

func (p *parser) level(key string, def slog.Level) slog.Level {
	v := p.str(key, "")
	if v == "" {
		return def
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		p.fail(key, v, "must be debug, info, warn or error")
		return def
	}
	return l
}
