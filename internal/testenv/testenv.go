// Package testenv gives tests real servers to talk to: a private
// redis-server and a private FerretDB (MongoDB wire protocol) per test, or
// the shared servers named by REDIS_URL and MONGO_URI when those are set.
//
// Tests of every package use it, so that integration tests run the same on a
// laptop with only Go and redis-server and in CI. A missing redis-server
// skips the test locally and fails it in CI (CI=true), where a skip would
// hide that nothing was tested.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/gatehouse/gatehouse/internal/embedded"
)

// Redis returns the URL of a Redis server for the test: REDIS_URL when it is
// set (then srv is nil, and tests share that server), else a private
// redis-server started for this test in a temporary folder and stopped when
// the test ends. The private server keeps no append-only file unless args
// say so (e.g. "--appendonly", "yes"); args are redis-server options, unused
// with REDIS_URL.
//
// Without redis-server on PATH the test is skipped, or fails in CI.
func Redis(t testing.TB, args ...string) (url string, srv *embedded.Redis) {
	t.Helper()
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u, nil
	}
	srv = RedisServer(t, t.TempDir(), 0, append([]string{"--appendonly", "no"}, args...)...)
	return srv.URL, srv
}

// RedisServer starts a private redis-server for the test with its files in
// dir (a fresh temporary folder when dir is empty) on 127.0.0.1:port (0 picks
// a free port), whatever REDIS_URL says, for tests that stop and restart the
// server. Unlike Redis, it keeps redis-server's append-only file on unless
// args turn it off. The server is stopped when the test ends; stopping it
// earlier is fine.
//
// Without redis-server on PATH the test is skipped, or fails in CI.
func RedisServer(t testing.TB, dir string, port int, args ...string) *embedded.Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		SkipOrFail(t, "testenv: redis-server not on PATH; to run this test: apt-get install -y redis-server")
	}
	if dir == "" {
		dir = t.TempDir()
	}
	srv, err := embedded.StartRedisServer(t.Context(), dir, port, logger(t), args...)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return srv
}

// Mongo returns a MongoDB URI for the test and a database name of its own:
// MONGO_URI when it is set, else a private FerretDB started for this test in
// a temporary folder and stopped when the test ends. The database name is
// "t_", the test's name and a random suffix, at most 60 characters, so tests
// that share a server do not see each other's data. On a shared server the
// database is dropped when the test ends.
//
// Disconnect clients before the test ends: FerretDB waits up to three seconds
// for connected clients when it stops.
func Mongo(t testing.TB) (uri, db string) {
	t.Helper()
	db = dbName(t.Name())
	if uri = os.Getenv("MONGO_URI"); uri != "" {
		t.Cleanup(func() { dropDatabase(t, uri, db) })
		return uri, db
	}
	srv, err := embedded.StartMongo(t.Context(), t.TempDir(), 0, logger(t))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return srv.URI, db
}

// MongoServer always starts a private FerretDB (ignoring MONGO_URI), for
// tests that stop it. It is stopped when the test ends.
func MongoServer(t testing.TB) *embedded.Mongo {
	t.Helper()
	srv, err := embedded.StartMongo(t.Context(), t.TempDir(), 0, logger(t))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

// maxDBName is the longest database name Mongo returns; MongoDB allows 63
// bytes and FerretDB only [a-zA-Z0-9_-].
const maxDBName = 60

// dbName returns "t_" + the sanitised test name + "_" + 8 random hex
// characters, at most maxDBName long.
func dbName(testName string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	suffix := "_" + hex.EncodeToString(b[:])

	name := []byte("t_")
	for _, r := range testName {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
			name = append(name, byte(r))
		default:
			if name[len(name)-1] != '_' {
				name = append(name, '_')
			}
		}
	}
	s := strings.TrimRight(string(name), "_")
	if limit := maxDBName - len(suffix); len(s) > limit {
		s = s[:limit]
	}
	return s + suffix
}

// dropDatabase drops db on the shared server at uri.
func dropDatabase(t testing.TB, uri, db string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		t.Errorf("testenv: drop database %s: %v", db, err)
		return
	}
	defer func() { _ = c.Disconnect(ctx) }()
	if err := c.Database(db).Drop(ctx); err != nil {
		t.Errorf("testenv: drop database %s: %v", db, err)
	}
}

// logger returns a logger that writes warnings and errors to the test's
// output.
func logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}
