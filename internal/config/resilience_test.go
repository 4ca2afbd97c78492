package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRedisSentinel(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{
		"APP_ENV":                 "production",
		"MAIL_ENABLED":            "false",
		"MONGO_URI":               "mongodb://m:27017",
		"REDIS_SENTINEL_ADDRS":    "10.0.0.1:26379, 10.0.0.2:26379,[::1]:26380",
		"REDIS_SENTINEL_PASSWORD": "hunter2",
	}))
	if err != nil {
		t.Fatalf("production with sentinels and no REDIS_URL: %v", err)
	}
	if got := fmt.Sprint(c.RedisSentinelAddrs); got != "[10.0.0.1:26379 10.0.0.2:26379 [::1]:26380]" {
		t.Errorf("addrs: got %s", got)
	}
	if c.RedisSentinelMaster != "mymaster" {
		t.Errorf("master: got %q, want the default mymaster", c.RedisSentinelMaster)
	}
	if c.RedisSentinelPassword != "hunter2" {
		t.Errorf("password: got %q", c.RedisSentinelPassword)
	}
	if s := c.String(); strings.Contains(s, "hunter2") || !strings.Contains(s, "10.0.0.2:26379") {
		t.Errorf("String() = %s; want the sentinels named and no password", s)
	}

	c, err = Load(env(map[string]string{
		"REDIS_SENTINEL_ADDRS":  "s1:26379",
		"REDIS_SENTINEL_MASTER": "sessions",
		"REDIS_URL":             "redis://:s3cret@ignored/2",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisSentinelMaster != "sessions" {
		t.Errorf("master: got %q", c.RedisSentinelMaster)
	}
	if s := c.String(); strings.Contains(s, "s3cret") {
		t.Errorf("String() leaks the data password: %s", s)
	}
}

func TestRedisSentinelInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"APP_ENV": "production", "MONGO_URI": "mongodb://m"}, "REDIS_SENTINEL_ADDRS"},
		{map[string]string{"REDIS_SENTINEL_ADDRS": "s1"}, "REDIS_SENTINEL_ADDRS"},
		{map[string]string{"REDIS_SENTINEL_ADDRS": "s1:0"}, "REDIS_SENTINEL_ADDRS"},
		{map[string]string{"REDIS_SENTINEL_ADDRS": ":26379"}, "REDIS_SENTINEL_ADDRS"},
		{map[string]string{"REDIS_SENTINEL_ADDRS": "s1:26379", "REDIS_SENTINEL_MASTER": "my master"}, "REDIS_SENTINEL_MASTER"},
		{map[string]string{"REDIS_SENTINEL_PASSWORD": "pw"}, "REDIS_SENTINEL_ADDRS"},
		{map[string]string{"REDIS_SENTINEL_ADDRS": "s1:26379", "REDIS_URL": "http://x"}, "REDIS_URL"},
		{map[string]string{"SHUTDOWN_DRAIN": "soon"}, "SHUTDOWN_DRAIN"},
		{map[string]string{"SHUTDOWN_DRAIN": "-1s"}, "SHUTDOWN_DRAIN"},
	}
	for _, tt := range tests {
		_, err := Load(env(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%v): got %v, want an error naming %s", tt.env, err, tt.want)
		}
	}
}

// TestShutdownDrainDefaults: no drain in development, where Ctrl-C should
// be quick; five seconds in production, behind a load balancer.
func TestShutdownDrainDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want time.Duration
	}{
		{nil, 0},
		{map[string]string{"APP_ENV": "production", "REDIS_URL": "redis://r", "MONGO_URI": "mongodb://m", "MAIL_ENABLED": "false"}, 5 * time.Second},
		{map[string]string{"SHUTDOWN_DRAIN": "2s"}, 2 * time.Second},
	}
	for _, tt := range tests {
		c, err := Load(env(tt.env))
		if err != nil {
			t.Fatal(err)
		}
		if c.ShutdownDrain != tt.want {
			t.Errorf("Load(%v): got ShutdownDrain %v, want %v", tt.env, c.ShutdownDrain, tt.want)
		}
	}
}
