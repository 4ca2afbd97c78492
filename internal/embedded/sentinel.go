package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// SentinelConfig describes what a Redis Sentinel started by
// StartRedisSentinel watches.
type SentinelConfig struct {
	// MasterName is the name the master is monitored under.
	MasterName string
	// MasterAddr is the master's host:port.
	MasterAddr string
	// Quorum is how many sentinels must agree that the master is down
	// before a failover starts. Zero means 2.
	Quorum int
	// DownAfter is how long the master must fail to answer before this
	// sentinel thinks it down. Zero means one second.
	DownAfter time.Duration
	// MasterPassword authenticates to the master and its replicas
	// (sentinel auth-pass). Optional.
	MasterPassword string
	// Password is the sentinel's own requirepass, which it also uses to
	// talk to the other sentinels. Optional.
	Password string
}

// sentinelConfName is the sentinel's configuration file in its folder. The
// sentinel rewrites it as it learns about replicas, other sentinels and
// failovers.
const sentinelConfName = "sentinel.conf"

// StartRedisSentinel starts a Redis Sentinel (redis-server --sentinel, the
// binary of the redis-server package) on 127.0.0.1:port (0 picks a free
// port), watching the master c names, with its configuration file and log
// in dir. The configuration file is written afresh on every start. It waits
// until the sentinel answers, for at most ten seconds. The URL is
// redis://[:password@]127.0.0.1:PORT; Stop stops it.
func StartRedisSentinel(ctx context.Context, dir string, port int, logger *slog.Logger, c SentinelConfig) (*Redis, error) {
	if logger == nil {
		logger = slog.Default()
	}
	conf, err := sentinelConf(c)
	if err != nil {
		return nil, fmt.Errorf("start redis sentinel: %w", err)
	}
	r, err := launch(ctx, "redis sentinel", dir, port, c.Password, logger, func(dir string, p int) ([]string, error) {
		// Written afresh for every attempt: the sentinel rewrites it.
		confPath := filepath.Join(dir, sentinelConfName)
		if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		return []string{
			confPath, "--sentinel",
			"--bind", "127.0.0.1",
			"--port", strconv.Itoa(p),
			"--dir", dir,
			"--daemonize", "no",
		}, nil
	})
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "redis", Host: r.Addr}
	if c.Password != "" {
		u.User = url.UserPassword("", c.Password)
	}
	r.URL = u.String()
	r.Persistent = false
	return r, nil
}

// sentinelConf returns the configuration file for c.
func sentinelConf(c SentinelConfig) (string, error) {
	if c.MasterName == "" || strings.ContainsAny(c.MasterName, " \t\r\n\"'") {
		return "", fmt.Errorf("master name %q: must be non-empty, without spaces or quotes", c.MasterName)
	}
	host, port, err := splitAddr(c.MasterAddr)
	if err != nil {
		return "", fmt.Errorf("master address %q: %w", c.MasterAddr, err)
	}
	for _, pw := range []string{c.MasterPassword, c.Password} {
		if strings.ContainsAny(pw, " \t\r\n\"'\\") {
			return "", errors.New("passwords may not hold spaces, quotes or backslashes")
		}
	}
	quorum := c.Quorum
	if quorum <= 0 {
		quorum = 2
	}
	down := c.DownAfter
	if down <= 0 {
		down = time.Second
	}
	var b strings.Builder
	fmt.Fprintf(&b, "sentinel monitor %s %s %d %d\n", c.MasterName, host, port, quorum)
	fmt.Fprintf(&b, "sentinel down-after-milliseconds %s %d\n", c.MasterName, down.Milliseconds())
	// A failed failover is retried after this long; the default is three
	// minutes.
	fmt.Fprintf(&b, "sentinel failover-timeout %s %d\n", c.MasterName, 10*down.Milliseconds())
	fmt.Fprintf(&b, "sentinel parallel-syncs %s 1\n", c.MasterName)
	if c.MasterPassword != "" {
		fmt.Fprintf(&b, "sentinel auth-pass %s %s\n", c.MasterName, c.MasterPassword)
	}
	if c.Password != "" {
		fmt.Fprintf(&b, "requirepass %s\n", c.Password)
	}
	return b.String(), nil
}

// splitAddr splits host:port and checks the port.
func splitAddr(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || host == "" || port < 1 || port > 65535 {
		return "", 0, errors.New("want host:port with a port from 1 to 65535")
	}
	return host, port, nil
}
