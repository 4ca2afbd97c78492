package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse/internal/metrics"
)

// startMetricsListener serves /metrics on addr, a listener for operators only
// (METRICS_ADDR, loopback by default), never the public one; and
// /debug/pprof/ beside it only when withPprof (PPROF_ENABLED): profiles
// expose memory and can stall the process. A taken address is logged, not
// fatal: the app still serves its users.
func startMetricsListener(addr string, m *metrics.Metrics, withPprof bool, logger *slog.Logger) (stop func(context.Context)) {
	if addr == "" {
		return func(context.Context) {}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logger.Error("metrics listener not started", "addr", addr, "err", err)
		return func(context.Context) {}
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 2 * time.Minute}
	logger.Info("metrics listening", "url", "http://"+ln.Addr().String()+"/metrics", "pprof", withPprof)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener stopped", "err", err)
		}
	}()
	return func(ctx context.Context) { _ = srv.Shutdown(ctx) }
}
