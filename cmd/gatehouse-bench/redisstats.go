package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
)

// redisProbe is the bench's own connection to the private redis-server.
type redisProbe struct{ c redis.Conn }

func dialProbe(ctx context.Context, url string) (*redisProbe, error) {
	c, err := redis.DialURLContext(ctx, url, redis.DialReadTimeout(5*time.Second), redis.DialWriteTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("redis probe: %w", err)
	}
	return &redisProbe{c: c}, nil
}

func (p *redisProbe) close() { _ = p.c.Close() }

// calls returns INFO commandstats as command -> calls, without INFO and
// CONFIG. The probe sends nothing else while a scenario runs.
func (p *redisProbe) calls() (map[string]int64, error) {
	info, err := redis.String(p.c.Do("INFO", "commandstats"))
	if err != nil {
		return nil, fmt.Errorf("INFO commandstats: %w", err)
	}
	out := map[string]int64{}
	for line := range strings.SplitSeq(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_")
		if !ok {
			continue
		}
		name, fields, ok := strings.Cut(rest, ":")
		if !ok || name == "info" || strings.HasPrefix(name, "config") {
			continue
		}
		for kv := range strings.SplitSeq(fields, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				out[name], _ = strconv.ParseInt(v, 10, 64)
			}
		}
	}
	return out, nil
}

// commandDelta is the commands sent between two calls() snapshots.
type commandDelta map[string]int64

func delta(before, after map[string]int64) commandDelta {
	d := commandDelta{}
	for k, v := range after {
		if n := v - before[k]; n > 0 {
			d[k] = n
		}
	}
	return d
}

func (d commandDelta) total() int64 {
	var n int64
	for _, v := range d {
		n += v
	}
	return n
}

// perRequest returns each command's calls per request, as "GET 1.00".
func (d commandDelta) perRequest(requests int) map[string]float64 {
	out := map[string]float64{}
	for _, k := range slices.Sorted(maps.Keys(d)) {
		out[strings.ToUpper(k)] = float64(d[k]) / float64(requests)
	}
	return out
}
