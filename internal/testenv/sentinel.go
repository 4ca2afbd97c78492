package testenv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/embedded"
)

// SentinelSet is a Redis master with one replica, watched by three Redis
// Sentinels, all redis-server children on 127.0.0.1.
type SentinelSet struct {
	// MasterName is the name the sentinels monitor the master under.
	MasterName string
	// Master and Replica are the data servers as started; after a
	// failover their roles are swapped.
	Master, Replica *embedded.Redis
	// Sentinels are the three sentinels, and Addrs their host:port.
	Sentinels []*embedded.Redis
	Addrs     []string
	// Password is the data servers' requirepass, SentinelPassword the
	// sentinels'; either may be empty.
	Password, SentinelPassword string
}

// sentinelReadyTimeout bounds the wait for the sentinels to find the replica
// and each other; they say hello every two seconds.
const sentinelReadyTimeout = 20 * time.Second

// RedisSentinels starts a master, a replica of it and three sentinels
// (quorum 2, down-after-milliseconds 1000, so that a killed master fails
// over in a few seconds), each in its own temporary folder without
// persistence. It returns once the replica is in sync and every sentinel
// knows the replica and the two other sentinels: from then on a failover
// can happen. Everything is stopped when the test ends.
//
// Without redis-server on PATH the test is skipped, or fails in CI.
func RedisSentinels(t testing.TB, password, sentinelPassword string) *SentinelSet {
	t.Helper()
	s := &SentinelSet{MasterName: "gatehouse", Password: password, SentinelPassword: sentinelPassword}
	// No diskless-sync delay: by default a master waits five seconds for
	// more replicas before the first sync.
	data := []string{"--appendonly", "no", "--repl-diskless-sync-delay", "0"}
	if password != "" {
		// masterauth too: a master that comes back becomes a replica.
		data = append(data, "--requirepass", password, "--masterauth", password)
	}
	s.Master = RedisServer(t, "", 0, data...)
	host, port, _ := strings.Cut(s.Master.Addr, ":")
	s.Replica = RedisServer(t, "", 0, append(data, "--replicaof", host, port)...)
	for range 3 {
		sn, err := embedded.StartRedisSentinel(t.Context(), t.TempDir(), 0, logger(t), embedded.SentinelConfig{
			MasterName:     s.MasterName,
			MasterAddr:     s.Master.Addr,
			Quorum:         2,
			DownAfter:      time.Second,
			MasterPassword: password,
			Password:       sentinelPassword,
		})
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		t.Cleanup(func() {
			if err := sn.Stop(); err != nil {
				t.Errorf("testenv: %v", err)
			}
		})
		s.Sentinels = append(s.Sentinels, sn)
		s.Addrs = append(s.Addrs, sn.Addr)
	}
	if err := s.waitReady(t.Context()); err != nil {
		t.Fatalf("testenv: sentinels not ready within %s: %v", sentinelReadyTimeout, err)
	}
	return s
}

// waitReady polls until the replica is in sync and every sentinel sees the
// master up, one replica and two other sentinels.
func (s *SentinelSet) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, sentinelReadyTimeout)
	defer cancel()
	var last error
	for {
		if last = s.ready(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *SentinelSet) ready() error {
	info, err := s.info(s.Replica.Addr, s.Password, "replication")
	if err != nil {
		return err
	}
	if info["master_link_status"] != "up" {
		return fmt.Errorf("replica link %q", info["master_link_status"])
	}
	for _, addr := range s.Addrs {
		c, err := dialAddr(addr, s.SentinelPassword)
		if err != nil {
			return err
		}
		m, err := redis.StringMap(c.Do("SENTINEL", "MASTER", s.MasterName))
		_ = c.Close()
		if err != nil {
			return fmt.Errorf("sentinel %s: %w", addr, err)
		}
		if m["flags"] != "master" || m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
			return fmt.Errorf("sentinel %s: flags %s, %s replicas, %s other sentinels",
				addr, m["flags"], m["num-slaves"], m["num-other-sentinels"])
		}
	}
	return nil
}

// MasterAddr returns the master's host:port as the first sentinel that
// answers reports it.
func (s *SentinelSet) MasterAddr(t testing.TB) string {
	t.Helper()
	var last error
	for _, addr := range s.Addrs {
		c, err := dialAddr(addr, s.SentinelPassword)
		if err != nil {
			last = err
			continue
		}
		hp, err := redis.Strings(c.Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.MasterName))
		_ = c.Close()
		if err != nil || len(hp) != 2 {
			last = fmt.Errorf("sentinel %s: %q, %v", addr, hp, err)
			continue
		}
		return hp[0] + ":" + hp[1]
	}
	t.Fatalf("testenv: no sentinel names the master: %v", last)
	return ""
}

// WaitReplicated writes a marker on the master at addr and waits until the
// replica has acknowledged it, and so every write before it. Replication
// is asynchronous: a session written just before the master dies is lost
// unless it reached the replica.
func (s *SentinelSet) WaitReplicated(t testing.TB, addr string) {
	t.Helper()
	c, err := dialAddr(addr, s.Password)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	defer c.Close()
	if _, err := c.Do("SET", "testenv:replication-marker", time.Now().String()); err != nil {
		t.Fatalf("testenv: write the marker: %v", err)
	}
	n, err := redis.Int(c.Do("WAIT", 1, 5000))
	if err != nil || n < 1 {
		t.Fatalf("testenv: WAIT 1 5000 = %d, %v; want 1 replica", n, err)
	}
}

// Role returns the role ("master" or "slave") the server at addr reports.
func (s *SentinelSet) Role(addr string) (string, error) {
	c, err := dialAddr(addr, s.Password)
	if err != nil {
		return "", err
	}
	defer c.Close()
	reply, err := redis.Values(c.Do("ROLE"))
	if err != nil {
		return "", err
	}
	if len(reply) == 0 {
		return "", errors.New("empty ROLE reply")
	}
	return redis.String(reply[0], nil)
}

// info returns the fields of INFO section on the server at addr.
func (s *SentinelSet) info(addr, password, section string) (map[string]string, error) {
	c, err := dialAddr(addr, password)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	text, err := redis.String(c.Do("INFO", section))
	if err != nil {
		return nil, err
	}
	fields := make(map[string]string)
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	return fields, nil
}

// dialAddr connects to a Redis server or sentinel with short timeouts.
func dialAddr(addr, password string) (redis.Conn, error) {
	return redis.Dial("tcp", addr,
		redis.DialPassword(password),
		redis.DialConnectTimeout(time.Second),
		redis.DialReadTimeout(6*time.Second), // WAIT blocks up to 5 s
		redis.DialWriteTimeout(time.Second),
	)
}
