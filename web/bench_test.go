package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	gatehouse "github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// discardWriter is a reusable http.ResponseWriter that discards the body,
// so that allocations counted are the server's, not a recorder's or
// net/http's.
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *discardWriter) Header() http.Header { return w.h }

func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *discardWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(b)
	return len(b), nil
}

// BenchmarkPageView sends an authenticated page view through the whole
// handler the application serves (request id, client IP, access log,
// recovery, security headers, body limit, cross-origin check, no-store,
// session load and policy, authentication, the page), against a real
// redis-server and FerretDB, with the session cookie of a signed-in user:
//
//   - html, json: GET /dashboard and GET /api/dashboard with the logger at
//     warn, as `make bench` runs the app (no access log line);
//   - html-access-log: GET /dashboard with production's default logging,
//     JSON at info (one access line per request, written to io.Discard);
//   - floor: a bare handler that does one redigo GET on the same pool, for
//     comparison.
func BenchmarkPageView(b *testing.B) {
	redisURL, _ := testenv.Redis(b)
	mongoURI, db := testenv.Mongo(b)
	quiet := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	loud := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a := newBenchApp(b, redisURL, mongoURI, db, quiet)
	h, pool := a.Handler, a.Redis
	hLogged := newBenchApp(b, redisURL, mongoURI, db, loud).Handler
	cookie := benchSignIn(b, h)

	page := func(h http.Handler, path string) func(b *testing.B) {
		return func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.AddCookie(cookie)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.code, w.n = 0, 0
				h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("GET %s: got status %d", path, w.code)
				}
			}
			if sc := w.h.Values("Set-Cookie"); len(sc) > 0 {
				b.Fatalf("GET %s: a steady-state page view sent Set-Cookie %v", path, sc)
			}
			b.ReportMetric(float64(w.n), "body-bytes")
		}
	}
	b.Run("html", page(h, "/dashboard"))
	b.Run("json", page(h, "/api/dashboard"))
	b.Run("html-access-log", page(hLogged, "/dashboard"))

	// The floor: one GET of a token-to-username key on the same pool.
	c := pool.Get()
	_, err := c.Do("SET", "scs:session:"+cookie.Value, "benchmark")
	c.Close()
	if err != nil {
		b.Fatal(err)
	}
	floor := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(cookie.Name)
		if err != nil {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		c, err := pool.GetContext(r.Context())
		if err != nil {
			http.Error(w, "redis", http.StatusServiceUnavailable)
			return
		}
		name, err := redigo.Bytes(redigo.DoContext(c, r.Context(), "GET", "scs:session:"+ck.Value))
		c.Close()
		if err != nil {
			http.Error(w, "redis", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(append([]byte("Hello, "), name...))
	})
	b.Run("floor", page(floor, "/"))
}

// newBenchApp returns the application as cmd/gatehouse builds it in
// production (HSTS, the embedded templates, metrics on), on the given
// servers, with login limits the benchmark never reaches.
func newBenchApp(b *testing.B, redisURL, mongoURI, db string, logger *slog.Logger) *gatehouse.App {
	b.Helper()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	cfg.Env, cfg.CookieName = config.Production, "gatehouse_session"
	cfg.RedisURL, cfg.MongoURI, cfg.MongoDB = redisURL, mongoURI, db
	cfg.RedisMaxActive, cfg.MongoTimeout = 64, 2*time.Second
	cfg.LoginMaxFailuresAccount, cfg.LoginMaxFailuresIP, cfg.TokenGuessLimit = 1000, 100000, 1000000
	params := fastHash
	a, err := gatehouse.New(context.Background(), cfg, gatehouse.Options{Logger: logger, Hashing: &params})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.Close)
	return a
}

// benchSignIn registers a user and signs in through the JSON API, and
// returns the session cookie.
func benchSignIn(b *testing.B, h http.Handler) *http.Cookie {
	b.Helper()
	body := `{"username":"benchmark","password":"correct horse battery staple"}`
	for _, step := range []struct {
		path string
		want int
	}{{"/auth/register", http.StatusCreated}, {"/auth/login", http.StatusOK}} {
		req := httptest.NewRequest(http.MethodPost, step.path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != step.want {
			b.Fatalf("POST %s: got status %d, want %d: %s", step.path, rec.Code, step.want, rec.Body)
		}
		if step.path == "/auth/login" {
			for _, c := range rec.Result().Cookies() {
				if c.Name == "gatehouse_session" && c.Value != "" {
					return &http.Cookie{Name: c.Name, Value: c.Value}
				}
			}
		}
	}
	b.Fatal("no session cookie after login")
	return nil
}
