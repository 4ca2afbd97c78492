package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/templates"
)

// benchWriter is a reusable http.ResponseWriter that discards the body, so
// that the allocations a benchmark reports are the handler's, not those of a
// recorder or of net/http's own response.
type benchWriter struct {
	h    http.Header
	code int
	n    int
}

func newBenchWriter() *benchWriter { return &benchWriter{h: http.Header{}} }

func (w *benchWriter) Header() http.Header { return w.h }

func (w *benchWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *benchWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(b)
	return len(b), nil
}

func (w *benchWriter) reset() {
	clear(w.h)
	w.code, w.n = 0, 0
}

// BenchmarkRenderDashboard renders the dashboard page, as handleDashboard
// does on a cache miss: the parsed template set, executed into a pooled
// buffer, then copied to the response.
func BenchmarkRenderDashboard(b *testing.B) {
	rd, err := newRenderer(templates.FS, false, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now, session.Policy{}.WithDefaults())
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	p := benchDashboard(now)
	w := newBenchWriter()
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		buf, err := rd.execute("dashboard", p)
		if err != nil {
			b.Fatal(err)
		}
		writeHTML(w, http.StatusOK, buf.Bytes())
		rd.bufs.Put(buf)
	}
	b.ReportMetric(float64(w.n), "body-bytes")
}

// benchDashboard is a signed-in user's dashboard page as of now.
func benchDashboard(now time.Time) dashboardPage {
	return dashboardPage{
		Page: "dashboard", Today: day(now), Year: now.Year(),
		User: session.Record{UserID: "0123456789abcdef01234567", Username: "benchmark", Role: "user", SID: "abcdefghijklmnopqrstuv"},
		Dashboard: dashboardView{
			MemberSince: now.Add(-48 * time.Hour), LastLogin: now.Add(-time.Hour),
			SessionStarted: now, SessionExpires: now.Add(24 * time.Hour), IdleTimeout: "30 minutes",
		},
	}
}

// BenchmarkSessionLoad loads a signed-in session from a real redis-server,
// layer by layer: the store's GET, scs's Load (GET and gob decode), and the
// loadSession middleware around a handler that only reads the user (Load,
// the lifetime policy, the cap on the expiry, and the save check, which
// writes nothing for an unchanged session).
func BenchmarkSessionLoad(b *testing.B) {
	redisURL, _ := testenv.Redis(b)
	pool, err := redis.NewPool(redisURL, redis.Options{Timeout: time.Second, MaxActive: 16})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pool.Close() })
	// A touch interval longer than any run: the benchmark measures the
	// steady state, and a touch would need Users, which it has not.
	policy := session.Policy{TouchInterval: time.Hour, IdleTimeout: 2 * time.Hour}.WithDefaults()
	sm := newSessionManager(session.NewStore(pool, 16), Cookie{Name: "gatehouse_session"}, policy)
	token := newBenchSession(b, sm)
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rd, err := newRenderer(templates.FS, false, logger, time.Now, policy)
	if err != nil {
		b.Fatal(err)
	}
	s := newSessions(sm, session.NewIndex(pool, time.Now), policy, 50, time.Now, logger, nil)
	ctx := context.Background()

	b.Run("store-get", func(b *testing.B) {
		b.ReportAllocs()
		key := session.StoreKey(token)
		for b.Loop() {
			if _, found, err := sm.Store.(*session.Store).FindCtx(ctx, key); err != nil || !found {
				b.Fatalf("found %v, %v", found, err)
			}
		}
	})
	b.Run("scs-load", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, err := sm.Load(ctx, token)
			if rec, _ := sm.Get(c, keyRecord).(*session.Record); err != nil || rec == nil || rec.UserID == "" {
				b.Fatalf("session not loaded: %v", err)
			}
		}
	})
	b.Run("middleware", func(b *testing.B) {
		h := loadSession(s, nil, nil, rd)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if currentUser(r) == nil {
				http.Error(w, "not signed in", http.StatusUnauthorized)
			}
		}))
		req := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
		req.AddCookie(&http.Cookie{Name: sm.Cookie.Name, Value: token})
		w := newBenchWriter()
		b.ReportAllocs()
		for b.Loop() {
			w.reset()
			h.ServeHTTP(w, req)
			if w.code != http.StatusOK || w.h.Get("Set-Cookie") != "" {
				b.Fatalf("got status %d, Set-Cookie %q", w.code, w.h.Get("Set-Cookie"))
			}
		}
	})
}

// newBenchSession stores a signed-in session holding what signIn puts in
// one, seen just now, and returns its token.
func newBenchSession(b *testing.B, sm *scs.SessionManager) string {
	b.Helper()
	ctx, err := sm.Load(context.Background(), "")
	if err != nil {
		b.Fatal(err)
	}
	sid, err := session.NewID()
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	sm.Put(ctx, keyRecord, &session.Record{
		UserID: "0123456789abcdef01234567", Username: "benchmark", Role: "user", SID: sid,
		MemberSince: now.Add(-48 * time.Hour), LastLogin: now.Add(-time.Hour), AuthAt: now, Seen: now,
	})
	token, _, err := sm.Commit(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return token
}
