package embedded

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

func TestStartRedisSentinel(t *testing.T) {
	t.Parallel()
	master := startTestRedis(t, "--appendonly", "no", "--requirepass", "data-pw")
	dir := t.TempDir()
	s, err := StartRedisSentinel(t.Context(), dir, 0, nil, SentinelConfig{
		MasterName: "gh", MasterAddr: master.Addr, Quorum: 1,
		DownAfter: 1500 * time.Millisecond, MasterPassword: "data-pw", Password: "sentinel-pw",
	})
	if err != nil {
		t.Fatalf("StartRedisSentinel: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	if want := "redis://:sentinel-pw@" + s.Addr; s.URL != want {
		t.Errorf("URL = %q, want %q", s.URL, want)
	}
	if s.Pid() == 0 {
		t.Error("Pid() = 0")
	}

	c := dialRedis(t, s.URL)
	m, err := redis.StringMap(c.Do("SENTINEL", "MASTER", "gh"))
	if err != nil {
		t.Fatalf("SENTINEL MASTER gh: %v", err)
	}
	for k, want := range map[string]string{"ip": "127.0.0.1", "port": strings.TrimPrefix(master.Addr, "127.0.0.1:"),
		"quorum": "1", "down-after-milliseconds": "1500"} {
		if m[k] != want {
			t.Errorf("SENTINEL MASTER gh: %s = %q, want %q", k, m[k], want)
		}
	}
	if conf, err := os.ReadFile(filepath.Join(dir, sentinelConfName)); err != nil || !strings.Contains(string(conf), "sentinel monitor gh") {
		t.Errorf("%s: %v\n%s", sentinelConfName, err, conf)
	}
	_ = c.Close()

	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	assertRefused(t, s.Addr)
}

func TestSentinelConfRejects(t *testing.T) {
	t.Parallel()
	for _, c := range []SentinelConfig{
		{MasterName: "", MasterAddr: "127.0.0.1:6379"},
		{MasterName: "my master", MasterAddr: "127.0.0.1:6379"},
		{MasterName: "m", MasterAddr: "127.0.0.1"},
		{MasterName: "m", MasterAddr: "127.0.0.1:0"},
		{MasterName: "m", MasterAddr: "127.0.0.1:6379", Password: "a b"},
	} {
		if _, err := sentinelConf(c); err == nil {
			t.Errorf("sentinelConf(%+v): got nil error", c)
		}
	}
}
