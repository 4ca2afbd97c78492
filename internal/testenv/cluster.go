package testenv

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/embedded"
)

// ClusterSet is a Redis Cluster of three masters with a replica each, all
// redis-server children on 127.0.0.1.
type ClusterSet struct {
	Nodes []*embedded.Redis
	// Addrs are every node's host:port, as seed nodes.
	Addrs []string
}

// clusterReadyTimeout bounds the wait for the cluster to agree on its
// layout and for every replica to finish its first sync.
const clusterReadyTimeout = 30 * time.Second

// RedisCluster starts six cluster nodes (cluster-node-timeout 1000, so
// that a killed master fails over in a few seconds), each in its own
// temporary folder without persistence, and joins them with redis-cli
// --cluster create --cluster-replicas 1. It returns once every node sees
// the cluster ok and every replica is in sync: from then on a failover can
// happen. Everything is stopped when the test ends.
//
// Without redis-server and redis-cli on PATH the test is skipped, or fails
// in CI.
func RedisCluster(t testing.TB) *ClusterSet {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		SkipOrFail(t, "testenv: redis-cli not on PATH; to run this test: apt-get install -y redis-tools")
	}
	s := &ClusterSet{}
	for range 6 {
		port := clusterPort(t)
		// No diskless-sync delay: by default a master waits five
		// seconds for more replicas before the first sync, and a
		// replica that has not synced cannot be promoted.
		n := RedisServer(t, "", port, "--appendonly", "no", "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000",
			"--repl-diskless-sync-delay", "0")
		s.Nodes = append(s.Nodes, n)
		s.Addrs = append(s.Addrs, n.Addr)
	}
	ctx, cancel := context.WithTimeout(t.Context(), clusterReadyTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, s.Addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("testenv: redis-cli --cluster create: %v\n%s", err, out)
	}
	var last error
	for {
		if last = s.ready(); last == nil {
			return s
		}
		select {
		case <-ctx.Done():
			t.Fatalf("testenv: cluster not ready within %s: %v", clusterReadyTimeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// clusterPort returns a free port below 55536 whose cluster bus port
// (port + 10000) is free too.
func clusterPort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		if p < 55536 {
			if bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000)); err == nil {
				_ = bus.Close()
				_ = l.Close()
				return p
			}
		}
		_ = l.Close()
	}
	t.Fatal("testenv: no free port pair for a cluster node")
	return 0
}

// ready checks that every node sees the cluster ok with three masters,
// each with its replica in its slot map, and that every replica is in
// sync.
func (s *ClusterSet) ready() error {
	for _, addr := range s.Addrs {
		c, err := dialAddr(addr, "")
		if err != nil {
			return err
		}
		ranges, err := redis.Values(c.Do("CLUSTER", "SLOTS"))
		_ = c.Close()
		if err != nil {
			return err
		}
		for _, r := range ranges {
			if v, _ := redis.Values(r, nil); len(v) < 4 {
				return fmt.Errorf("%s: a slot range without a replica yet", addr)
			}
		}
		info, err := s.info(addr, "CLUSTER", "INFO")
		if err != nil {
			return err
		}
		if info["cluster_state"] != "ok" || info["cluster_known_nodes"] != "6" || info["cluster_size"] != "3" {
			return fmt.Errorf("%s: state %s, %s nodes, size %s", addr, info["cluster_state"], info["cluster_known_nodes"], info["cluster_size"])
		}
		repl, err := s.info(addr, "INFO", "replication")
		if err != nil {
			return err
		}
		if repl["role"] == "slave" && repl["master_link_status"] != "up" {
			return fmt.Errorf("%s: replica link %s", addr, repl["master_link_status"])
		}
	}
	return nil
}

// info returns the fields of an INFO-like reply of the node at addr.
func (s *ClusterSet) info(addr string, cmd string, args ...any) (map[string]string, error) {
	c, err := dialAddr(addr, "")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	text, err := redis.String(c.Do(cmd, args...))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", addr, cmd, err)
	}
	fields := make(map[string]string)
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	return fields, nil
}

// Node returns the node listening on addr.
func (s *ClusterSet) Node(t testing.TB, addr string) *embedded.Redis {
	t.Helper()
	for _, n := range s.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	t.Fatalf("testenv: no cluster node at %s", addr)
	return nil
}

// MasterOf returns the address of the master that holds key's slot, and
// of its replica, as the first node that answers says.
func (s *ClusterSet) MasterOf(t testing.TB, key string) (master, replica string) {
	t.Helper()
	for _, addr := range s.Addrs {
		c, err := dialAddr(addr, "")
		if err != nil {
			continue
		}
		slot, err := redis.Int(c.Do("CLUSTER", "KEYSLOT", key))
		if err != nil {
			_ = c.Close()
			continue
		}
		ranges, err := redis.Values(c.Do("CLUSTER", "SLOTS"))
		_ = c.Close()
		if err != nil {
			continue
		}
		for _, r := range ranges {
			v, _ := redis.Values(r, nil)
			if len(v) < 3 {
				continue
			}
			lo, _ := redis.Int(v[0], nil)
			hi, _ := redis.Int(v[1], nil)
			if slot < lo || slot > hi {
				continue
			}
			node := func(x any) string {
				n, _ := redis.Values(x, nil)
				if len(n) < 2 {
					return ""
				}
				host, _ := redis.String(n[0], nil)
				port, _ := redis.Int(n[1], nil)
				return net.JoinHostPort(host, strconv.Itoa(port))
			}
			master = node(v[2])
			if len(v) > 3 {
				replica = node(v[3])
			}
			return master, replica
		}
	}
	t.Fatalf("testenv: no node names the master of %q", key)
	return "", ""
}

// WaitReplicated writes a marker on the master at addr, in one of its
// own slots, and waits until its replica has acknowledged it, and so
// every write before it.
func (s *ClusterSet) WaitReplicated(t testing.TB, addr string) {
	t.Helper()
	c, err := dialAddr(addr, "")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	defer c.Close()
	// A key of the node's own: ask it for one of its slots' keys.
	var key string
	for i := 0; key == ""; i++ {
		k := "testenv:marker:" + strconv.Itoa(i)
		if _, err := c.Do("SET", k, time.Now().String()); err == nil {
			key = k
		} else if !strings.HasPrefix(err.Error(), "MOVED") {
			t.Fatalf("testenv: write the marker: %v", err)
		}
	}
	n, err := redis.Int(c.Do("WAIT", 1, 5000))
	if err != nil || n < 1 {
		t.Fatalf("testenv: WAIT 1 5000 = %d, %v; want 1 replica", n, err)
	}
}

// Role returns the role ("master" or "slave") the node at addr reports.
func (s *ClusterSet) Role(addr string) (string, error) {
	repl, err := s.info(addr, "INFO", "replication")
	if err != nil {
		return "", err
	}
	return repl["role"], nil
}

// CommandCalls adds up INFO commandstats over every node that answers.
func (s *ClusterSet) CommandCalls(t testing.TB) map[string]int {
	t.Helper()
	total := map[string]int{}
	for _, addr := range s.Addrs {
		c, err := dialAddr(addr, "")
		if err != nil {
			continue
		}
		for k, n := range CommandCalls(t, c) {
			total[k] += n
		}
		_ = c.Close()
	}
	return total
}

// ResetStats resets the command statistics of every node that answers.
func (s *ClusterSet) ResetStats(t testing.TB) {
	t.Helper()
	for _, addr := range s.Addrs {
		if c, err := dialAddr(addr, ""); err == nil {
			ResetStats(t, c)
			_ = c.Close()
		}
	}
}
