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

	"github.com/gatehouse/gatehouse/internal/mongo"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/user"
	"github.com/gatehouse/gatehouse/static"
	"github.com/gatehouse/gatehouse/templates"
	"github.com/gatehouse/gatehouse/web"
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
// handler web.NewServer returns (request id, client IP, access log,
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
	pool, err := redis.NewPool(redisURL, redis.Options{Timeout: time.Second, MaxActive: 64})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pool.Close() })
	client, err := mongo.Connect(context.Background(), mongoURI, 2*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	repo := mongo.NewUsers(client.Database(db), 2*time.Second)
	if err := repo.EnsureIndexes(context.Background()); err != nil {
		b.Fatal(err)
	}

	quiet := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	loud := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := newBenchServer(b, pool, repo, quiet)
	hLogged := newBenchServer(b, pool, repo, loud)
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
	_, err = c.Do("SET", "scs:session:"+cookie.Value, "benchmark")
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

// newBenchServer returns the real router over pool and repo, set up as
// cmd/gatehouse does in production (HSTS, the embedded templates).
func newBenchServer(b *testing.B, pool *redigo.Pool, repo *mongo.Users, logger *slog.Logger) http.Handler {
	b.Helper()
	hasher, err := password.New(fastHash)
	if err != nil {
		b.Fatal(err)
	}
	h, err := web.NewServer(web.Deps{
		Logger: logger,
		Sessions: session.New(pool, session.Options{
			Lifetime: 24 * time.Hour, CookieName: "gatehouse_session", MaxActive: 64,
		}),
		SessionIndex: session.NewIndex(pool, time.Now),
		Users:        user.NewService(repo, hasher, time.Now),
		Templates:    templates.FS,
		Static:       static.FS,
		Production:   true,
		LoginLimiter: redis.NewLoginLimiter(pool, redis.LoginLimits{
			MaxPerAccount: 1000, MaxPerIP: 100000, Window: 15 * time.Minute,
		}, time.Now),
		SessionGuesses:    redis.NewWindowCounter(pool, "gatehouse:guess:", 15*time.Minute),
		SessionGuessLimit: 1000000,
	})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// benchSignIn registers a user and signs in through the JSON API, and
// returns the session cookie.
func benchSignIn(b *testing.B, h http.Handler) *http.Cookie {
	b.Helper()
	body := `{"username":"benchmark","password":"benchmark-password"}`
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
