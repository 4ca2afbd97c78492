package testenv

import "testing"

func TestRedisSentinels(t *testing.T) {
	t.Parallel()
	s := RedisSentinels(t, "data-pw", "sentinel-pw")
	if len(s.Addrs) != 3 || len(s.Sentinels) != 3 {
		t.Fatalf("got %d sentinels (%v), want 3", len(s.Sentinels), s.Addrs)
	}
	if got := s.MasterAddr(t); got != s.Master.Addr {
		t.Errorf("the sentinels name %s, want the master %s", got, s.Master.Addr)
	}
	for addr, want := range map[string]string{s.Master.Addr: "master", s.Replica.Addr: "slave"} {
		if got, err := s.Role(addr); err != nil || got != want {
			t.Errorf("role of %s: got %q, %v; want %s", addr, got, err, want)
		}
	}
	s.WaitReplicated(t, s.Master.Addr)
}
