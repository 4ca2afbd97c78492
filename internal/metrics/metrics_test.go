package metrics

import (
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// TestRequestSeries: requests are counted per route, method and status,
// with made-up methods folded into "other" so that clients cannot add
// series, and the cached series count like fresh ones.
func TestRequestSeries(t *testing.T) {
	t.Parallel()
	m := New()
	for range 3 {
		m.Request("/dashboard", "GET", 200, time.Millisecond)
	}
	m.Request("", "POST", 404, time.Millisecond)
	for i := range 100 {
		m.Request("/dashboard", fmt.Sprintf("FOO%d", i), 405, time.Millisecond)
	}
	m.Request("/dashboard", "GET", 999, time.Millisecond)

	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	var observed uint64
	for _, f := range families {
		switch f.GetName() {
		case "gatehouse_http_requests_total":
			for _, s := range f.GetMetric() {
				got[labels(s)] = s.GetCounter().GetValue()
			}
		case "gatehouse_http_request_duration_seconds":
			for _, s := range f.GetMetric() {
				observed += s.GetHistogram().GetSampleCount()
			}
		}
	}
	want := map[string]float64{
		"method=GET route=/dashboard status=200":   3,
		"method=POST route=unmatched status=404":   1,
		"method=other route=/dashboard status=405": 100,
		"method=GET route=/dashboard status=other": 1,
	}
	if len(got) != len(want) {
		t.Errorf("got %d series %v, want %d", len(got), got, len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
	if observed != 105 {
		t.Errorf("latency histogram holds %d observations, want 105", observed)
	}
}

func labels(m *dto.Metric) string {
	s := ""
	for i, l := range m.GetLabel() {
		if i > 0 {
			s += " "
		}
		s += l.GetName() + "=" + l.GetValue()
	}
	return s
}
