package web

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/templates"
)

func TestPageCacheGenerations(t *testing.T) {
	t.Parallel()
	c := newPageCache[int](2)
	page := func(k int) []byte { return []byte{byte(k)} }
	get := func(k int) bool {
		t.Helper()
		b, ok := c.get(k)
		if ok && !bytes.Equal(b, page(k)) {
			t.Fatalf("get(%d): got %v, want %v", k, b, page(k))
		}
		return ok
	}
	c.put(1, page(1))
	c.put(2, page(2))
	// The newer generation is full: 3 starts a new one; 1 and 2 are older.
	c.put(3, page(3))
	if !get(1) { // moves 1 into the newer generation, which is now full
		t.Fatal("1 was dropped one generation too early")
	}
	c.put(4, page(4)) // drops the generation that held only 2 and 1's old copy
	for k, want := range map[int]bool{1: true, 2: false, 3: true, 4: true} {
		if got := get(k); got != want {
			t.Errorf("get(%d): got found %v, want %v", k, got, want)
		}
	}
	if n := len(c.cur) + len(c.old); n > 4 {
		t.Errorf("holds %d pages, want at most 2 generations of 2", n)
	}
	// Putting a key already in the newer generation does not start another.
	c.put(4, page(4))
	if !get(3) {
		t.Error("replacing a page dropped a generation")
	}
}

// TestDashboardCache: through the real handler, a cached dashboard is byte
// for byte a fresh render of the same page, and a session whose record
// changes gets a new page, not a stale one.
func TestDashboardCache(t *testing.T) {
	t.Parallel()
	policy := session.Policy{}.WithDefaults()
	rd, err := newRenderer(templates.FS, false, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now, policy)
	if err != nil {
		t.Fatal(err)
	}
	sm := scs.New() // memory store: the flash is read from it
	h := handleDashboard(rd, &sessions{sm: sm}, policy)
	now := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	view := func(rec session.Record) string {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
		ctx, err := sm.Load(r.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		r = r.WithContext(withLoaded(ctx, &loaded{rec: &rec}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("got %d: %s", w.Code, w.Body)
		}
		return w.Body.String()
	}
	fresh := func(rec session.Record) string {
		t.Helper()
		buf, err := rd.execute("dashboard", dashboardPage{Page: "dashboard", Today: day(time.Now()), User: rec, Year: time.Now().Year(),
			Limits: rd.limits, Dashboard: dashboardFor(&rec, policy, humanDuration(policy.IdleTimeout))})
		if err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	base := session.Record{UserID: "0123456789abcdef01234567", Username: "ada", Role: "user", SID: "abcdefghijklmnopqrstuv",
		MemberSince: now.Add(-48 * time.Hour), LastLogin: now.Add(-time.Hour), AuthAt: now, Seen: now}
	admin, renamed, remembered := base, base, base
	admin.Role = "admin"
	renamed.Username = "grace"
	remembered.Remember = true
	for name, rec := range map[string]session.Record{"base": base, "admin": admin, "renamed": renamed, "remembered": remembered} {
		want := fresh(rec)
		for i := range 2 { // a miss, then a hit
			if got := view(rec); got != want {
				t.Fatalf("%s, view %d: the page differs from a fresh render:\n%s\nwant\n%s", name, i, got, want)
			}
		}
		if name != "base" && want == fresh(base) {
			t.Errorf("%s renders the same page as base: the test does not exercise the key", name)
		}
	}
	if n := len(rd.dashboards.cur) + len(rd.dashboards.old); n != 4 {
		t.Errorf("cache holds %d pages, want 4, one per record", n)
	}
}
