package config

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// day is the unit people use for long lifetimes (REMEMBER_ME_LIFETIME=30d).
const day = 24 * time.Hour

// FormatDuration writes d as people write durations in settings: 15s, 1m,
// 30m, 24h, 1h30m, 30d, 366d, rather than time.Duration's 8784h0m0s. Days
// start at two (48h is 2d, 36h stays 36h), so that the usual 24h reads as
// people set it. ParseDuration reads every result back.
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d >= 2*day {
		b.WriteString(strconv.FormatInt(int64(d/day), 10) + "d")
		d %= day
	}
	if h := d / time.Hour; h > 0 {
		b.WriteString(strconv.FormatInt(int64(h), 10) + "h")
		d %= time.Hour
	}
	if m := d / time.Minute; m > 0 {
		b.WriteString(strconv.FormatInt(int64(m), 10) + "m")
		d %= time.Minute
	}
	if d > 0 {
		// Under a minute: time.Duration's own form (45s, 1.5s, 200ms).
		b.WriteString(d.String())
	}
	return b.String()
}

// ParseDuration reads a duration as time.ParseDuration does, with a leading
// whole number of days allowed too: 30d, 1d12h, 366d.
func ParseDuration(s string) (time.Duration, error) {
	neg := strings.HasPrefix(s, "-")
	rest := strings.TrimLeft(s, "+-")
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i == 0 || i == len(rest) || rest[i] != 'd' {
		return time.ParseDuration(s)
	}
	days, err := strconv.ParseInt(rest[:i], 10, 64)
	if err != nil || days > int64(1<<63-1)/int64(day) {
		return 0, errors.New("duration out of range: " + strconv.Quote(s))
	}
	d := time.Duration(days) * day
	if tail := rest[i+1:]; tail != "" {
		t, err := time.ParseDuration(tail)
		if err != nil || t < 0 || strings.HasPrefix(tail, "+") {
			return 0, errors.New("invalid duration " + strconv.Quote(s))
		}
		if d > time.Duration(1<<63-1)-t {
			return 0, errors.New("duration out of range: " + strconv.Quote(s))
		}
		d += t
	}
	if neg {
		d = -d
	}
	return d, nil
}
