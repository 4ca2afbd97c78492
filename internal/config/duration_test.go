package config

import (
	"strings"
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{15 * time.Second, "15s"},
		{1500 * time.Millisecond, "1.5s"},
		{200 * time.Millisecond, "200ms"},
		{10 * time.Millisecond, "10ms"},
		{time.Minute, "1m"},
		{90 * time.Second, "1m30s"},
		{30 * time.Minute, "30m"},
		{90 * time.Minute, "1h30m"},
		{time.Hour + 30*time.Second, "1h30s"},
		{24 * time.Hour, "24h"},
		{36 * time.Hour, "36h"},
		{48 * time.Hour, "2d"},
		{49 * time.Hour, "2d1h"},
		{7 * 24 * time.Hour, "7d"},
		{30 * 24 * time.Hour, "30d"},
		{366 * 24 * time.Hour, "366d"},
		{400*24*time.Hour + 90*time.Minute, "400d1h30m"},
		{-5 * time.Second, "-5s"},
	}
	for _, tt := range tests {
		if got := FormatDuration(tt.d); got != tt.want {
			t.Errorf("FormatDuration(%v): got %q, want %q", tt.d, got, tt.want)
		}
		// What is printed can be set: it reads back as the same duration.
		if back, err := ParseDuration(tt.want); err != nil || back != tt.d {
			t.Errorf("ParseDuration(%q): got %v, %v, want %v", tt.want, back, err, tt.d)
		}
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"30d", 30 * 24 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"720h", 720 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{"0", 0},
		{"-2d", -48 * time.Hour},
	}
	for _, tt := range tests {
		if got, err := ParseDuration(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q): got %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "d", "30", "1.5d", "d30", "30dd", "1d-1h", "1d+1h", "99999999999999d", "30 d", "forever"} {
		if got, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q): got %v, want an error", bad, got)
		}
	}
}

// TestDurationsForPeople: the start-up line and the error messages print
// durations as they are set, and days can be set.
func TestDurationsForPeople(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"REMEMBER_ME_LIFETIME": "30d", "SESSION_LIFETIME": "7d"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.RememberMeLifetime != 30*24*time.Hour || c.SessionLifetime != 7*24*time.Hour {
		t.Fatalf("days: got %v and %v, want 720h and 168h", c.RememberMeLifetime, c.SessionLifetime)
	}
	s := c.String()
	for _, want := range []string{" lifetime=7d ", " idle=30m ", "per 15m "} {
		if !strings.Contains(s, want) {
			t.Errorf("String(): got %s, want it to contain %q", s, want)
		}
	}
	_, err = Load(env(map[string]string{"SESSION_LIFETIME": "1s", "SESSION_IDLE_TIMEOUT": "25h"}))
	for _, want := range []string{`SESSION_LIFETIME="1s" must be a duration such as 30m or 24h, from 1m to 366d`, `SESSION_IDLE_TIMEOUT="25h" must not exceed SESSION_LIFETIME`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}
