package redis_test

import (
	"strconv"
	"strings"

	redigo "github.com/gomodule/redigo/redis"
)

var redisString = redigo.String

// commandCalls parses INFO commandstats into command name -> calls.
func commandCalls(info string) map[string]int {
	out := map[string]int{}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				out[name], _ = strconv.Atoi(v)
			}
		}
	}
	return out
}
