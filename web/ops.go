package web

// Operations: liveness, readiness and static files. None loads a session.

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// handleHealthz reports that the process serves HTTP. It checks no
// dependency, so that an orchestrator does not restart healthy instances
// during a Redis or MongoDB outage.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// readyTimeout bounds each dependency's ping in /readyz.
const readyTimeout = time.Second

// ErrDraining is what a Check returns once the instance has begun to shut
// down: /readyz then answers 503 with status "draining", so that load
// balancers stop sending it new requests while it still serves those that
// arrive.
var ErrDraining = errors.New("shutting down")

// handleReadyz pings every dependency in parallel and answers 503 naming
// those that failed, so that a load balancer sends traffic elsewhere. A
// check that returns ErrDraining is named too, without a warning in the log.
func handleReadyz(checks []Check, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		results := make(map[string]string, len(checks))
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, c := range checks {
			wg.Go(func() {
				status := "ok"
				if err := c.Ping(ctx); errors.Is(err, ErrDraining) {
					status = "draining"
				} else if err != nil {
					logger.Warn("readiness check failed", "dependency", c.Name, "err", err, "request_id", requestID(r))
					status = "unavailable"
				}
				mu.Lock()
				results[c.Name] = status
				mu.Unlock()
			})
		}
		wg.Wait()
		code, overall := http.StatusOK, "ready"
		var failed []string
		draining := false
		for _, c := range checks {
			if results[c.Name] != "ok" {
				failed = append(failed, c.Name)
				draining = draining || results[c.Name] == "draining"
			}
		}
		if len(failed) > 0 {
			code, overall = http.StatusServiceUnavailable, "unavailable"
		}
		if draining {
			overall = "draining"
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, code, struct {
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
			Failed []string          `json:"failed,omitempty"`
		}{overall, results, failed})
	})
}

// handleStatic serves the embedded stylesheet and images. A missing file
// or a directory gets the friendly 404 page, which is not cached.
func handleStatic(rd *renderer, fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return rd.handle(func(w http.ResponseWriter, r *http.Request) error {
		name := r.URL.Path
		if !fs.ValidPath(name) {
			return errNotFound
		}
		if st, err := fs.Stat(fsys, name); err != nil || st.IsDir() {
			return errNotFound
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
		return nil
	})
}
