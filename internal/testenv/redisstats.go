package testenv

import (
	"strconv"
	"strings"
	"testing"

	redigo "github.com/gomodule/redigo/redis"
)

// ResetStats clears Redis's command counters (CONFIG RESETSTAT).
func ResetStats(t testing.TB, c redigo.Conn) {
	t.Helper()
	if _, err := c.Do("CONFIG", "RESETSTAT"); err != nil {
		t.Fatalf("testenv: CONFIG RESETSTAT: %v", err)
	}
}

// CommandCalls returns INFO commandstats as command name -> calls, so that
// tests can count what the app sent to a real Redis.
func CommandCalls(t testing.TB, c redigo.Conn) map[string]int {
	t.Helper()
	info, err := redigo.String(c.Do("INFO", "commandstats"))
	if err != nil {
		t.Fatalf("testenv: INFO commandstats: %v", err)
	}
	out := map[string]int{}
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_")
		if !ok {
			continue
		}
		name, fields, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(fields, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				out[name], _ = strconv.Atoi(v)
			}
		}
	}
	return out
}
