package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gatehouse "github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/user"
)

// BenchmarkForgotPasswordTiming times POST /password/forgot through the
// whole handler, on a real redis-server and FerretDB with the mail worker
// running (sending to a real SMTP server in the test), for an account
// with a verified address ("known") and a name no account has
// ("unknown"), interleaved so that both meet the same background work. It
// reports each one's median in ns and their ratio: the request only
// normalises, throttles and queues, whatever the account, so the ratio
// should stay near 1. Run with -count to see it hold across runs:
//
//	go test -tags dev -run '^$' -bench ForgotPasswordTiming -count 5 ./web
func BenchmarkForgotPasswordTiming(b *testing.B) {
	redisURL, _ := testenv.Redis(b)
	mongoURI, db := testenv.Mongo(b)
	srv := testenv.SMTP(b, 0)
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	cfg.RedisURL, cfg.MongoURI, cfg.MongoDB = redisURL, mongoURI, db
	cfg.SMTPURL, cfg.PublicURL = srv.URL, "http://gatehouse.test"
	// Every request must reach the queue: no throttling here.
	cfg.LoginMaxFailuresAccount, cfg.LoginMaxFailuresIP = 1<<30, 1<<30
	quiet := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := gatehouse.New(context.Background(), cfg, gatehouse.Options{Logger: quiet, Hashing: &fastHash})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.Close)
	b.Cleanup(a.StartMail())
	u, err := a.Users.RegisterWithEmail(context.Background(), "known", "correct horse 1", "known@example.com")
	if err != nil {
		b.Fatal(err)
	}
	addr, _ := user.NormalizeEmail("known@example.com")
	if _, err := a.Users.VerifyEmail(context.Background(), u.ID, addr.Norm); err != nil {
		b.Fatal(err)
	}

	post := func(login string) time.Duration {
		req := httptest.NewRequest(http.MethodPost, "/password/forgot", strings.NewReader(url.Values{"login": {login}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		w := &discardWriter{h: http.Header{}}
		start := time.Now()
		a.Handler.ServeHTTP(w, req)
		d := time.Since(start)
		if w.code != http.StatusOK {
			b.Fatalf("%s: got %d", login, w.code)
		}
		return d
	}
	// Warm up both paths.
	for range 20 {
		post("known")
		post("nobody")
	}
	known := make([]time.Duration, 0, b.N)
	unknown := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			known = append(known, post("known"))
		} else {
			unknown = append(unknown, post("nobody"))
		}
	}
	b.StopTimer()
	mk, mu := median(known), median(unknown)
	b.ReportMetric(float64(mk.Nanoseconds()), "known-median-ns")
	b.ReportMetric(float64(mu.Nanoseconds()), "unknown-median-ns")
	if mu > 0 {
		b.ReportMetric(float64(mk)/float64(mu), "known/unknown")
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
