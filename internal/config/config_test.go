package config

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Env", c.Env, Development},
		{"Port", c.Port, 8080},
		{"MongoDB", c.MongoDB, "gatehouse"},
		{"SessionLifetime", c.SessionLifetime, 24 * time.Hour},
		{"SessionIdleTimeout", c.SessionIdleTimeout, 30 * time.Minute},
		{"CookieName", c.CookieName, "gatehouse_session"},
		{"CookieSecure", c.CookieSecure, false},
		{"RedisTimeout", c.RedisTimeout, time.Second},
		{"CORS", len(c.CORSAllowedOrigins), 0},
		{"LoginMaxFailuresAccount", c.LoginMaxFailuresAccount, 5},
		{"LoginMaxFailuresIP", c.LoginMaxFailuresIP, 50},
		{"LoginFailureWindow", c.LoginFailureWindow, 15 * time.Minute},
		{"TokenGuessLimit", c.TokenGuessLimit, 100},
		{"TrustedProxies", len(c.TrustedProxies), 0},
		{"ClientIPHeader", c.ClientIPHeader, "X-Forwarded-For"},
		{"PwnedPasswordsURL", c.PwnedPasswordsURL, ""},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestProductionDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"APP_ENV": "production", "REDIS_URL": "redis://r:6379/0", "MONGO_URI": "mongodb://m:27017", "MAIL_ENABLED": "false"}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.CookieSecure || c.CookieName != "__Host-gatehouse_session" || !c.Production() {
		t.Fatalf("got secure=%v name=%q, want secure __Host- cookie", c.CookieSecure, c.CookieName)
	}
	c, err = Load(env(map[string]string{"APP_ENV": "production", "REDIS_URL": "redis://r:6379/0", "MONGO_URI": "mongodb://m:27017", "MAIL_ENABLED": "false", "COOKIE_SECURE": "false"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.CookieName != "gatehouse_session" {
		t.Fatalf("insecure production cookie: got name %q, want no __Host- prefix", c.CookieName)
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want string // the variable named in the error
	}{
		{map[string]string{"APP_ENV": "staging"}, "APP_ENV"},
		{map[string]string{"APP_ENV": "production", "MONGO_URI": "mongodb://m"}, "REDIS_URL"},
		{map[string]string{"APP_ENV": "production", "REDIS_URL": "redis://r"}, "MONGO_URI"},
		{map[string]string{"PORT": "http"}, "PORT"},
		{map[string]string{"PORT": "70000"}, "PORT"},
		{map[string]string{"PORT": "-1"}, "PORT"},
		{map[string]string{"REDIS_URL": "localhost:6379"}, "REDIS_URL"},
		{map[string]string{"REDIS_URL": "http://x"}, "REDIS_URL"},
		{map[string]string{"MONGO_URI": "postgres://x"}, "MONGO_URI"},
		{map[string]string{"MONGO_DB": "a.b"}, "MONGO_DB"},
		{map[string]string{"SESSION_LIFETIME": "forever"}, "SESSION_LIFETIME"},
		{map[string]string{"SESSION_LIFETIME": "1s"}, "SESSION_LIFETIME"},
		{map[string]string{"SESSION_IDLE_TIMEOUT": "48h"}, "SESSION_IDLE_TIMEOUT"},
		{map[string]string{"SESSION_COOKIE_NAME": "bad name;"}, "SESSION_COOKIE_NAME"},
		{map[string]string{"SESSION_COOKIE_NAME": "__Host-x"}, "SESSION_COOKIE_NAME"},
		{map[string]string{"COOKIE_SECURE": "maybe"}, "COOKIE_SECURE"},
		{map[string]string{"CORS_ALLOWED_ORIGINS": "*"}, "CORS_ALLOWED_ORIGINS"},
		{map[string]string{"CORS_ALLOWED_ORIGINS": "https://ok.test,ftp://x"}, "CORS_ALLOWED_ORIGINS"},
		{map[string]string{"CORS_ALLOWED_ORIGINS": "https://ok.test/path"}, "CORS_ALLOWED_ORIGINS"},
		{map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{map[string]string{"REDIS_MAX_ACTIVE": "0"}, "REDIS_MAX_ACTIVE"},
		{map[string]string{"LOGIN_MAX_FAILURES_ACCOUNT": "0"}, "LOGIN_MAX_FAILURES_ACCOUNT"},
		{map[string]string{"LOGIN_MAX_FAILURES_IP": "many"}, "LOGIN_MAX_FAILURES_IP"},
		{map[string]string{"LOGIN_FAILURE_WINDOW": "0s"}, "LOGIN_FAILURE_WINDOW"},
		{map[string]string{"TRUSTED_PROXIES": "10.0.0.0/33"}, "TRUSTED_PROXIES"},
		{map[string]string{"TRUSTED_PROXIES": "proxy.local"}, "TRUSTED_PROXIES"},
		{map[string]string{"CLIENT_IP_HEADER": "True-Client-IP"}, "CLIENT_IP_HEADER"},
		{map[string]string{"REDIS_CLUSTER_ADDRS": "r1:7000,r2"}, "REDIS_CLUSTER_ADDRS"},
		{map[string]string{"REDIS_CLUSTER_ADDRS": "r1:7000", "REDIS_SENTINEL_ADDRS": "s1:26379"}, "REDIS_CLUSTER_ADDRS"},
		{map[string]string{"REDIS_CLUSTER_ADDRS": "r1:7000", "REDIS_URL": "redis://:pw@x/2"}, "REDIS_URL"},
	}
	for _, tt := range tests {
		_, err := Load(env(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%v): got %v, want an error naming %s", tt.env, err, tt.want)
		}
	}
}

func TestAllErrorsReported(t *testing.T) {
	t.Parallel()
	_, err := Load(env(map[string]string{"PORT": "x", "SESSION_LIFETIME": "y"}))
	if err == nil || !strings.Contains(err.Error(), "PORT") || !strings.Contains(err.Error(), "SESSION_LIFETIME") {
		t.Fatalf("got %v, want both variables named", err)
	}
}

// TestRedisCluster: REDIS_CLUSTER_ADDRS alone is enough Redis for
// production, and REDIS_URL may add the nodes' password.
func TestRedisCluster(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"APP_ENV": "production", "MONGO_URI": "mongodb://m:27017",
		"REDIS_CLUSTER_ADDRS": "r1:7000, r2:7001", "REDIS_URL": "redis://:hunter2@ignored/0", "MAIL_ENABLED": "false"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.RedisClusterAddrs) != 2 || c.RedisClusterAddrs[1] != "r2:7001" {
		t.Fatalf("got %q", c.RedisClusterAddrs)
	}
	if s := c.String(); !strings.Contains(s, "cluster(addrs=[r1:7000 r2:7001]") || strings.Contains(s, "hunter2") {
		t.Fatalf("String: %s", s)
	}
}

func TestStringMasksSecrets(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"REDIS_URL": "redis://:hunter2@r:6379/0", "MONGO_URI": "mongodb://u:s3cret@m:27017"}))
	if err != nil {
		t.Fatal(err)
	}
	s := c.String()
	if strings.Contains(s, "hunter2") || strings.Contains(s, "s3cret") {
		t.Fatalf("String() leaks a password: %s", s)
	}
	// Neither may an error message.
	_, err = Load(env(map[string]string{"REDIS_URL": "redis://:hunter2@", "MONGO_URI": "ftp://u:s3cret@m"}))
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("got %v, want an error without the passwords", err)
	}
}

func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1 ,::1", "CLIENT_IP_HEADER": "x-real-ip"}))
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(c.TrustedProxies)
	if got != "[10.0.0.0/8 127.0.0.1/32 ::1/128]" {
		t.Fatalf("got %s", got)
	}
}

func TestPwnedPasswordsURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true}, // off, the default
		{"https://api.pwnedpasswords.com", "https://api.pwnedpasswords.com", true},
		{"https://api.pwnedpasswords.com/", "https://api.pwnedpasswords.com", true},
		{"http://127.0.0.1:8099/mirror", "http://127.0.0.1:8099/mirror", true},
		{"api.pwnedpasswords.com", "", false},
		{"ftp://mirror.test", "", false},
		{"https://", "", false},
		{"https://mirror.test/?key=1", "", false},
		{"https://mirror.test/#range", "", false},
		{"https://user:secret@mirror.test", "", false},
	}
	for _, tt := range tests {
		c, err := Load(env(map[string]string{"PWNED_PASSWORDS_URL": tt.in}))
		if !tt.ok {
			if err == nil || !strings.Contains(err.Error(), "PWNED_PASSWORDS_URL") || strings.Contains(err.Error(), "secret") {
				t.Errorf("PWNED_PASSWORDS_URL=%q: got %v, want an error naming the variable, without secrets", tt.in, err)
			}
			continue
		}
		if err != nil || c.PwnedPasswordsURL != tt.want {
			t.Errorf("PWNED_PASSWORDS_URL=%q: got %q, %v; want %q, nil", tt.in, c.PwnedPasswordsURL, err, tt.want)
		}
	}
}

// TestEveryVariableDocumented: each variable Load reads is listed in
// .env.example and in the README's configuration table.
func TestEveryVariableDocumented(t *testing.T) {
	t.Parallel()
	var keys []string
	seen := map[string]bool{}
	_, _ = Load(func(k string) string {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
		return ""
	})
	if len(keys) < 20 {
		t.Fatalf("only %d variables read: %v", len(keys), keys)
	}
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	old := map[string]bool{}
	for _, o := range renamed {
		old[o] = true
	}
	for _, k := range keys {
		if old[k] {
			continue // a former name: documented beside its successor only
		}
		if !strings.Contains(string(example), "\n"+k+"=") {
			t.Errorf(".env.example lacks %s", k)
		}
		if !strings.Contains(string(readme), "| `"+k+"` |") {
			t.Errorf("README's configuration table lacks %s", k)
		}
	}
}

// TestRenamedVariables: a variable's old name is still read when the new
// one is unset, and reported for a warning; the new name wins.
func TestRenamedVariables(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"SESSION_GUESS_LIMIT": "7", "SESSION_GUESS_WINDOW": "1m"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenGuessLimit != 7 || c.TokenGuessWindow != time.Minute {
		t.Errorf("old names: got limit %d window %v, want 7 and 1m", c.TokenGuessLimit, c.TokenGuessWindow)
	}
	if len(c.Deprecated) != 2 || !strings.Contains(c.Deprecated[0], "now TOKEN_GUESS_") {
		t.Errorf("Deprecated: got %q, want both old names", c.Deprecated)
	}
	c, err = Load(env(map[string]string{"SESSION_GUESS_LIMIT": "7", "TOKEN_GUESS_LIMIT": "9"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenGuessLimit != 9 || len(c.Deprecated) != 0 {
		t.Errorf("both names: got limit %d, deprecated %q; want 9 and none", c.TokenGuessLimit, c.Deprecated)
	}
}

func TestMailSettings(t *testing.T) {
	t.Parallel()
	prod := map[string]string{"APP_ENV": "production", "REDIS_URL": "redis://r:6379/0", "MONGO_URI": "mongodb://m:27017"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range prod {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	c, err := Load(env(nil))
	if err != nil || !c.MailEnabled || c.SMTPURL != "" || c.PublicURL != "" || c.MailMaxAttempts != 10 ||
		c.PasswordResetTTL != 30*time.Minute || c.MailFrom == "" {
		t.Fatalf("development defaults: got %+v, %v", c, err)
	}
	c, err = Load(env(with("SMTP_URL", "smtp://u:s3cret@mail.example.com:587", "MAIL_FROM", "Gatehouse <noreply@example.com>",
		"PUBLIC_URL", "https://login.example.com/")))
	if err != nil || c.PublicURL != "https://login.example.com" {
		t.Fatalf("production with mail: got %q, %v", c.PublicURL, err)
	}
	if s := c.String(); strings.Contains(s, "s3cret") || !strings.Contains(s, "mail=smtp://u:xxxxx@mail.example.com:587") {
		t.Errorf("String: got %s", s)
	}
	if _, err := Load(env(with("MAIL_ENABLED", "false"))); err != nil {
		t.Errorf("production without mail: %v", err)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{with(), "SMTP_URL is required in production"},
		{with(), "MAIL_FROM is required"},
		{with(), "PUBLIC_URL is required"},
		{map[string]string{"SMTP_URL": "http://u:s3cret@x"}, "SMTP_URL"},
		{map[string]string{"SMTP_URL": "smtps://x?starttls=opportunistic"}, "SMTP_URL"},
		{map[string]string{"SMTP_URL": "smtp://x?tls=no"}, "SMTP_URL"},
		{map[string]string{"MAIL_FROM": "not an address"}, "MAIL_FROM"},
		{map[string]string{"PUBLIC_URL": "login.example.com"}, "PUBLIC_URL"},
		{map[string]string{"PUBLIC_URL": "https://u:p@login.example.com"}, "PUBLIC_URL"},
		{map[string]string{"MAIL_MAX_ATTEMPTS": "0"}, "MAIL_MAX_ATTEMPTS"},
		{map[string]string{"PASSWORD_RESET_TTL": "10s"}, "PASSWORD_RESET_TTL"},
	} {
		_, err := Load(env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%v): got %v, want an error about %s", tc.env, err, tc.want)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Load(%v): the error quotes a password: %v", tc.env, err)
		}
	}
}
