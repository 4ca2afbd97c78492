package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestMetricsAndPprof scrapes the internal listener after some traffic.
func TestMetricsAndPprof(t *testing.T) {
	redisURL, _ := testenv.Redis(t)
	mongoURI, db := testenv.Mongo(t)
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	base, _, _ := startRun(t, map[string]string{
		"REDIS_URL": redisURL, "MONGO_URI": mongoURI, "MONGO_DB": db, "METRICS_ADDR": metricsAddr, "LOG_LEVEL": "warn",
		"PPROF_ENABLED": "true",
	})
	c := newAPIClient(t, base)
	if code := c.post("/auth/register", `{"username":"measured","password":"password-1"}`); code != http.StatusCreated {
		t.Fatalf("register: %d", code)
	}
	if code := c.post("/auth/login", `{"username":"measured","password":"wrong-pass"}`); code != http.StatusUnauthorized {
		t.Fatalf("bad login: %d", code)
	}
	if code := c.post("/auth/login", `{"username":"measured","password":"password-1"}`); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	for range 3 {
		if code := c.get("/api/dashboard"); code != http.StatusOK {
			t.Fatalf("dashboard: %d", code)
		}
	}
	if code := c.post("/auth/logout", ""); code != http.StatusOK {
		t.Fatalf("logout: %d", code)
	}

	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("http://" + metricsAddr + "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`gatehouse_http_requests_total{method="GET",route="/api/dashboard",status="200"} 3`,
		`gatehouse_http_requests_total{method="POST",route="/auth/login",status="401"} 1`,
		`gatehouse_http_request_duration_seconds_count{route="/api/dashboard"} 3`,
		`gatehouse_logins_total{outcome="success"} 1`,
		`gatehouse_logins_total{outcome="bad_credentials"} 1`,
		`gatehouse_sessions_created_total 1`,
		`gatehouse_sessions_ended_total{reason="logout"} 1`,
		`gatehouse_redis_pool_active_connections `,
		`gatehouse_redis_pool_idle_connections `,
		`gatehouse_redis_pool_wait_seconds_total `,
		`gatehouse_mongodb_operation_duration_seconds_count{command="find",result="ok"}`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, _ := get("http://" + metricsAddr + "/debug/pprof/"); code != http.StatusOK {
		t.Errorf("pprof index: %d", code)
	}
	// Neither is on the public listener.
	for _, path := range []string{"/metrics", "/debug/pprof/"} {
		if code, _ := get(base + path); code != http.StatusNotFound {
			t.Errorf("public %s: got %d, want 404", path, code)
		}
	}
}

// TestPprofOffByDefault: pprof, which can read memory and stall the
// process, is served only when PPROF_ENABLED=true; the metrics are.
func TestPprofOffByDefault(t *testing.T) {
	redisURL, _ := testenv.Redis(t)
	mongoURI, db := testenv.Mongo(t)
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	startRun(t, map[string]string{
		"APP_ENV": "production", "COOKIE_SECURE": "false", "SHUTDOWN_DRAIN": "0s", "MAIL_ENABLED": "false",
		"REDIS_URL": redisURL, "MONGO_URI": mongoURI, "MONGO_DB": db, "METRICS_ADDR": metricsAddr, "LOG_LEVEL": "warn",
	})
	for path, want := range map[string]int{"/metrics": http.StatusOK, "/debug/pprof/": http.StatusNotFound, "/debug/pprof/heap": http.StatusNotFound} {
		resp, err := http.Get("http://" + metricsAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: got %d, want %d", path, resp.StatusCode, want)
		}
	}
}
