package web

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/templates"
)

func TestPageCacheGenerations(t *testing.T) {
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
	if n := cacheSize(c); n > 4 {
		t.Errorf("holds %d pages, want at most 2 generations of 2", n)
	}
	// Putting a key already in the newer generation does not start another.
	c.put(4, page(4))
	if !get(3) {
		t.Error("replacing a page dropped a generation")
	}
}

// TestDashboardCacheMatchesRender checks that a cached dashboard is byte
// for byte a fresh render, and that any change in what the page shows is
// a different page, not a stale hit.
func TestDashboardCacheMatchesRender(t *testing.T) {
	rd, err := newRenderer(templates.FS, false, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	base := dashboardKey{
		user: sessionUser{ID: "0123456789abcdef01234567", Username: "ada", Role: "user", SID: "abcdefghijklmnopqrstuv"},
		dash: dashboardView{MemberSince: now.Add(-48 * time.Hour), LastLogin: now.Add(-time.Hour),
			SessionStarted: now, SessionExpires: now.Add(24 * time.Hour), IdleTimeout: "30 minutes"},
		year: 2026,
	}
	// A fresh render builds its view here, independently of dashboardPage.
	fresh := func(k dashboardKey) string {
		u, d := k.user, k.dash
		d.format()
		w := httptest.NewRecorder()
		rd.render(w, httptest.NewRequest(http.MethodGet, "/dashboard", nil), http.StatusOK, "dashboard",
			view{User: &u, Dashboard: &d, Year: k.year})
		return w.Body.String()
	}
	cached := func(k dashboardKey) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		renderCached(rd, rd.dashboards, w, httptest.NewRequest(http.MethodGet, "/dashboard", nil), "dashboard", k, dashboardPage)
		return w
	}

	admin := base
	admin.user.Role, admin.user.IsAdmin = "admin", true
	other := base
	other.user.Username = "grace"
	remembered := base
	remembered.dash.Remember, remembered.dash.IdleTimeout = true, ""
	later := base
	later.dash.LastLogin = now.Add(-time.Minute)
	nextYear := base
	nextYear.year = 2027

	for name, k := range map[string]dashboardKey{"base": base, "admin": admin, "other user": other,
		"remembered": remembered, "later sign-in": later, "next year": nextYear} {
		t.Run(name, func(t *testing.T) {
			want := fresh(k)
			for i := range 2 { // a miss, then a hit
				w := cached(k)
				if got := w.Body.String(); got != want {
					t.Fatalf("call %d: cached page differs from a fresh render:\n%s\nwant\n%s", i, got, want)
				}
			}
			if k != base && want == fresh(base) {
				t.Errorf("this key renders the same page as base: the test does not exercise the key")
			}
		})
	}
	if n := cacheSize(rd.dashboards); n != 6 {
		t.Errorf("cache holds %d pages, want 6, one per key", n)
	}
}

// cacheSize returns how many pages c holds, a page counted once per
// generation it is in.
func cacheSize[K comparable](c *pageCache[K]) int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.cur) + len(c.old)
}
