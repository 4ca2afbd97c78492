package main

import (
	"slices"
	"testing"
)

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		in := slices.Clone(tt.in)
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
		if !slices.Equal(in, tt.in) {
			t.Errorf("median reordered its argument: %v", tt.in)
		}
	}
}

// TestCompareRounds: the ratios to the floor are the medians of each
// round's ratio, not ratios of the pooled numbers.
func TestCompareRounds(t *testing.T) {
	t.Parallel()
	r := &results{Scenarios: []scenarioResult{
		{Key: keyDashboard, OK: stats{RPS: 600, P99ms: 10},
			Rounds: []roundStats{{RPS: 800, P99ms: 6}, {RPS: 100, P99ms: 30}, {RPS: 900, P99ms: 5}}},
		{Key: keyFloor, OK: stats{RPS: 1000, P99ms: 4},
			Rounds: []roundStats{{RPS: 1000, P99ms: 4}, {RPS: 1000, P99ms: 4}, {RPS: 1000, P99ms: 4}}},
	}}
	r.compare()
	if !slices.Equal(r.Floor.ThroughputRounds, []float64{0.8, 0.1, 0.9}) {
		t.Fatalf("throughput rounds %v", r.Floor.ThroughputRounds)
	}
	if r.Floor.Throughput != 0.8 || !r.Floor.ThroughputMet {
		t.Errorf("throughput %v (met %v), want the median 0.8, met", r.Floor.Throughput, r.Floor.ThroughputMet)
	}
	if r.Floor.P99 != 1.5 || !r.Floor.P99Met {
		t.Errorf("p99 %v (met %v), want the median 1.5, met", r.Floor.P99, r.Floor.P99Met)
	}
}
