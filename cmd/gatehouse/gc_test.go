package main

import (
	"runtime/debug"
	"testing"
)

// TestGCPercent: an empty GOGC gives the server's 400, a set one wins
// (from .env too, which the runtime never reads), and one Go would not
// take changes nothing.
func TestGCPercent(t *testing.T) {
	was := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(was) })
	for _, tt := range []struct {
		env  string
		want int
	}{{"", gcPercent}, {"250", 250}, {"off", -1}, {"junk", -1}, {"", 400}} {
		setGCPercent(tt.env)
		if got := debug.SetGCPercent(tt.want); got != tt.want {
			t.Errorf("GOGC=%q: the collector's target is %d, want %d", tt.env, got, tt.want)
		}
	}
}
