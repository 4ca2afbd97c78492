// Package metrics defines Gatehouse's Prometheus metrics. They are served
// on a separate, internal listener (METRICS_ADDR), never on the public one.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.mongodb.org/mongo-driver/event"
)

// Metrics are the application's collectors, on their own registry.
type Metrics struct {
	Registry *prometheus.Registry

	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	logins        *prometheus.CounterVec
	sessionsNew   prometheus.Counter
	sessionsEnded *prometheus.CounterVec
	unknownTokens *prometheus.CounterVec
	mongoLatency  *prometheus.HistogramVec
	mail          *prometheus.CounterVec
}

// New returns the metrics, registered with the Go runtime and process
// collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total",
			Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_logins_total",
			Help: "Login attempts by outcome: success, bad_credentials, throttled, busy, error.",
		}, []string{"outcome"}),
		sessionsNew: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_sessions_created_total",
			Help: "Sessions created by a sign-in.",
		}),
		sessionsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_sessions_ended_total",
			Help: "Sessions ended, by reason: logout, revoked (by the user, an admin or a password change), evicted (past MAX_SESSIONS_PER_USER), expired (idle or absolute timeout, the user deleted or disabled, or its security stamp replaced).",
		}, []string{"reason"}),
		unknownTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_unknown_tokens_total",
			Help: "Requests whose session cookie named no live session, by outcome: allowed, or refused as token guessing (past TOKEN_GUESS_LIMIT).",
		}, []string{"outcome"}),
		mongoLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_mongodb_operation_duration_seconds",
			Help:    "MongoDB command latency by command and result.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"command", "result"}),
		mail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_mail_jobs_total",
			Help: "Mail queue events by outcome: queued, sent, failed (one failed attempt), dead (moved to the dead-letter stream), dropped (nothing to send after all).",
		}, []string{"outcome"}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.latency, m.logins, m.sessionsNew, m.sessionsEnded, m.unknownTokens, m.mongoLatency, m.mail,
	)
	return m
}

// Request records one HTTP request. Nil-safe, as are all recorders.
func (m *Metrics) Request(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, methodLabel(method), statusLabel(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// methodLabel keeps the method label to the methods HTTP defines: net/http
// accepts any token as a method, and a label per made-up method would let
// clients grow the metrics without bound.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// Login records a login attempt's outcome.
func (m *Metrics) Login(outcome string) {
	if m != nil {
		m.logins.WithLabelValues(outcome).Inc()
	}
}

// Mail records a mail queue event (internal/mail's outcomes).
func (m *Metrics) Mail(outcome string) {
	if m != nil {
		m.mail.WithLabelValues(outcome).Inc()
	}
}

// SessionCreated records a sign-in.
func (m *Metrics) SessionCreated() {
	if m != nil {
		m.sessionsNew.Inc()
	}
}

// SessionsEnded records n sessions ended for reason.
func (m *Metrics) SessionsEnded(reason string, n int) {
	if m != nil && n > 0 {
		m.sessionsEnded.WithLabelValues(reason).Add(float64(n))
	}
}

// UnknownToken records a session cookie that named no live session;
// refused is true past the token-guessing limit.
func (m *Metrics) UnknownToken(refused bool) {
	if m == nil {
		return
	}
	if refused {
		m.unknownTokens.WithLabelValues("refused").Inc()
	} else {
		m.unknownTokens.WithLabelValues("allowed").Inc()
	}
}

// RedisPool exports a redigo pool's statistics.
func (m *Metrics) RedisPool(pool *redis.Pool) {
	stat := func(name, help string, kind prometheus.ValueType, f func(redis.PoolStats) float64) prometheus.Collector {
		desc := prometheus.NewDesc(name, help, nil, nil)
		return collectorFunc{desc: desc, collect: func(ch chan<- prometheus.Metric) {
			ch <- prometheus.MustNewConstMetric(desc, kind, f(pool.Stats()))
		}}
	}
	m.Registry.MustRegister(
		stat("gatehouse_redis_pool_active_connections", "Redis connections open (in use or idle).", prometheus.GaugeValue,
			func(s redis.PoolStats) float64 { return float64(s.ActiveCount) }),
		stat("gatehouse_redis_pool_idle_connections", "Redis connections idle in the pool.", prometheus.GaugeValue,
			func(s redis.PoolStats) float64 { return float64(s.IdleCount) }),
		stat("gatehouse_redis_pool_waits_total", "Times a caller waited for a Redis connection.", prometheus.CounterValue,
			func(s redis.PoolStats) float64 { return float64(s.WaitCount) }),
		stat("gatehouse_redis_pool_wait_seconds_total", "Time spent waiting for Redis connections.", prometheus.CounterValue,
			func(s redis.PoolStats) float64 { return s.WaitDuration.Seconds() }),
	)
}

// MongoMonitor returns a driver command monitor that records latencies.
func (m *Metrics) MongoMonitor() *event.CommandMonitor {
	if m == nil {
		return nil
	}
	return &event.CommandMonitor{
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			m.mongoLatency.WithLabelValues(e.CommandName, "ok").Observe(e.Duration.Seconds())
		},
		Failed: func(_ context.Context, e *event.CommandFailedEvent) {
			m.mongoLatency.WithLabelValues(e.CommandName, "error").Observe(e.Duration.Seconds())
		},
	}
}

// statusLabels are the status labels, made once: formatting one per
// request allocated.
var statusLabels = func() (l [600]string) {
	for code := 100; code < 600; code++ {
		l[code] = strconv.Itoa(code)
	}
	return l
}()

func statusLabel(code int) string {
	if code >= 100 && code < 600 {
		return statusLabels[code]
	}
	return "other"
}

// collectorFunc is a collector computed at scrape time.
type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
