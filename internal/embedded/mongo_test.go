package embedded

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.uber.org/goleak"
)

// startMongo starts FerretDB in dir and stops it when the test ends.
func startMongo(t *testing.T, dir string) *Mongo {
	t.Helper()
	m, err := StartMongo(t.Context(), dir, 0, nil)
	if err != nil {
		t.Fatalf("StartMongo: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return m
}

// connectMongo connects the official driver to uri. The caller disconnects
// it (before stopping the server, which otherwise waits for it).
func connectMongo(t *testing.T, uri string) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(t.Context(), options.Client().ApplyURI(uri).SetTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("connect %s: %v", uri, err)
	}
	return c
}

// disconnect disconnects c.
func disconnect(t *testing.T, c *mongo.Client) {
	t.Helper()
	if err := c.Disconnect(context.Background()); err != nil {
		t.Errorf("Disconnect: %v", err)
	}
}

type user struct {
	Name  string `bson:"name"`
	Email string `bson:"email"`
}

// exerciseMongo inserts, finds, and checks a unique index in a fresh
// collection of database db.
func exerciseMongo(t *testing.T, c *mongo.Client, db string) {
	t.Helper()
	ctx := t.Context()
	coll := c.Database(db).Collection("users")
	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "email", Value: 1}},
		Options: options.Index().SetUnique(true),
	}); err != nil {
		t.Fatalf("create unique index: %v", err)
	}
	if _, err := coll.InsertOne(ctx, user{Name: "ada", Email: "ada@example.com"}); err != nil {
		t.Fatalf("InsertOne: %v", err)
	}
	var got user
	if err := coll.FindOne(ctx, bson.M{"name": "ada"}).Decode(&got); err != nil {
		t.Fatalf("FindOne: %v", err)
	}
	if want := (user{Name: "ada", Email: "ada@example.com"}); got != want {
		t.Errorf("FindOne = %+v, want %+v", got, want)
	}
	_, err := coll.InsertOne(ctx, user{Name: "eve", Email: "ada@example.com"})
	if !mongo.IsDuplicateKeyError(err) {
		t.Errorf("InsertOne with a taken email: %v, want a duplicate key error", err)
	}
	n, err := coll.CountDocuments(ctx, bson.M{})
	if err != nil {
		t.Fatalf("CountDocuments: %v", err)
	}
	if n != 1 {
		t.Errorf("CountDocuments = %d, want 1", n)
	}
}

func TestStartMongo(t *testing.T) {
	// Not parallel: it checks for leaked goroutines, process-wide.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := filepath.Join(t.TempDir(), "not", "yet")

	m, err := StartMongo(t.Context(), dir, 0, nil)
	if err != nil {
		t.Fatalf("StartMongo: %v", err)
	}
	if !regexp.MustCompile(`^mongodb://127\.0\.0\.1:\d+/$`).MatchString(m.URI) {
		t.Errorf("URI = %q, want mongodb://127.0.0.1:PORT/", m.URI)
	}
	c := connectMongo(t, m.URI)
	exerciseMongo(t, c, "gatehouse")
	disconnect(t, c)

	if _, err := os.Stat(filepath.Join(dir, "gatehouse.sqlite")); err != nil {
		t.Errorf("the database's SQLite file: %v", err)
	}

	if err := m.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	assertRefused(t, hostOf(t, m.URI))
	if err := m.Stop(); err != nil {
		t.Errorf("second Stop: %v, want nil", err)
	}
}

func TestStartMongoRestartKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := StartMongo(t.Context(), dir, 0, nil)
	if err != nil {
		t.Fatalf("first StartMongo: %v", err)
	}
	t.Cleanup(func() { _ = first.Stop() })
	c := connectMongo(t, first.URI)
	exerciseMongo(t, c, "gatehouse")
	disconnect(t, c)
	if err := first.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	second := startMongo(t, dir)
	c = connectMongo(t, second.URI)
	defer disconnect(t, c)
	coll := c.Database("gatehouse").Collection("users")
	var got user
	if err := coll.FindOne(t.Context(), bson.M{"name": "ada"}).Decode(&got); err != nil {
		t.Fatalf("FindOne after restart: %v", err)
	}
	// The unique index survived too.
	_, err = coll.InsertOne(t.Context(), user{Name: "eve", Email: "ada@example.com"})
	if !mongo.IsDuplicateKeyError(err) {
		t.Errorf("InsertOne with a taken email after restart: %v, want a duplicate key error", err)
	}
}

func TestStartMongoPort(t *testing.T) {
	t.Parallel()
	t.Run("free", func(t *testing.T) {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		m, err := StartMongo(t.Context(), t.TempDir(), port, nil)
		if err != nil {
			t.Fatalf("StartMongo: %v", err)
		}
		t.Cleanup(func() { _ = m.Stop() })
		if want := "mongodb://127.0.0.1:" + strconv.Itoa(port) + "/"; m.URI != want {
			t.Errorf("URI = %q, want %q", m.URI, want)
		}
	})
	t.Run("taken", func(t *testing.T) {
		m, err := StartMongo(t.Context(), t.TempDir(), holdPort(t), nil)
		if err == nil {
			_ = m.Stop()
			t.Fatal("StartMongo on a taken port: nil error, want one")
		}
	})
	t.Run("out of range", func(t *testing.T) {
		m, err := StartMongo(t.Context(), t.TempDir(), 70000, nil)
		if err == nil {
			_ = m.Stop()
			t.Fatal("StartMongo on port 70000: nil error, want one")
		}
	})
}

func TestStartMongoConcurrently(t *testing.T) {
	t.Parallel()
	const n = 3
	var wg sync.WaitGroup
	ms := make([]*Mongo, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			ms[i], errs[i] = StartMongo(t.Context(), t.TempDir(), 0, nil)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("StartMongo %d: %v", i, errs[i])
			continue
		}
		if err := ms[i].Stop(); err != nil {
			t.Errorf("Stop %d: %v", i, err)
		}
	}
}

func TestStartMongoDirWithSpecialCharacters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		wantErr bool
	}{
		{"my data folder", false},
		{"ünïcödé-&=+;,", false},
		{"per%20cent", true},
		{"question?mark", true},
		{"hash#mark", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tc.name)
			m, err := StartMongo(t.Context(), dir, 0, nil)
			if tc.wantErr {
				if err == nil {
					_ = m.Stop()
					t.Fatalf("StartMongo(%q): nil error, want one", dir)
				}
				return
			}
			if err != nil {
				t.Fatalf("StartMongo(%q): %v", dir, err)
			}
			t.Cleanup(func() { _ = m.Stop() })
			c := connectMongo(t, m.URI)
			defer disconnect(t, c)
			exerciseMongo(t, c, "gatehouse")
			if _, err := os.Stat(filepath.Join(dir, "gatehouse.sqlite")); err != nil {
				t.Errorf("the database's SQLite file: %v", err)
			}
		})
	}
}

func TestStartMongoContext(t *testing.T) {
	t.Parallel()
	t.Run("cancelled before start", func(t *testing.T) {
		m, err := StartMongo(cancelled(), t.TempDir(), 0, nil)
		if err == nil {
			_ = m.Stop()
			t.Fatal("StartMongo: nil error, want one")
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("StartMongo: %v, want %v", err, context.Canceled)
		}
	})
	t.Run("cancelled after start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		m, err := StartMongo(ctx, t.TempDir(), 0, nil)
		if err != nil {
			t.Fatalf("StartMongo: %v", err)
		}
		t.Cleanup(func() { _ = m.Stop() })
		cancel()
		c := connectMongo(t, m.URI)
		defer disconnect(t, c)
		if err := c.Ping(t.Context(), nil); err != nil {
			t.Errorf("Ping after the start context was cancelled: %v", err)
		}
	})
}

func TestStartMongoWritesOnlyInDir(t *testing.T) {
	// Point every usual place for state, caches and temporary files at an
	// empty folder and check that it stays empty.
	elsewhere := t.TempDir()
	for _, key := range []string{"HOME", "TMPDIR", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"} {
		t.Setenv(key, elsewhere)
	}
	dir := t.TempDir()
	m := startMongo(t, dir)
	c := connectMongo(t, m.URI)
	exerciseMongo(t, c, "gatehouse")
	disconnect(t, c)
	if err := m.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	entries, err := os.ReadDir(elsewhere)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("FerretDB wrote %s outside its folder", filepath.Join(elsewhere, e.Name()))
	}
	entries, err = os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if ok, _ := filepath.Match("*.sqlite*", e.Name()); !ok {
			t.Errorf("unexpected file %s in the data folder", e.Name())
		}
	}
}

// recordingHandler keeps every record it handles.
type recordingHandler struct {
	mu      *sync.Mutex
	records *[]slog.Record
	attrs   []slog.Attr
}

func newRecordingHandler() recordingHandler {
	return recordingHandler{mu: new(sync.Mutex), records: new([]slog.Record)}
}

func (h recordingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h recordingHandler) Handle(_ context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.records = append(*h.records, r)
	return nil
}

func (h recordingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h.attrs = append(h.attrs[:len(h.attrs):len(h.attrs)], attrs...)
	return h
}

func (h recordingHandler) WithGroup(string) slog.Handler { return h }

func TestStartMongoLogsOnlyErrors(t *testing.T) {
	t.Parallel()
	h := newRecordingHandler()
	m, err := StartMongo(t.Context(), t.TempDir(), 0, slog.New(h))
	if err != nil {
		t.Fatalf("StartMongo: %v", err)
	}
	c := connectMongo(t, m.URI)
	exerciseMongo(t, c, "gatehouse")
	disconnect(t, c)
	if err := m.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	var started bool
	for _, r := range *h.records {
		fromFerretDB := false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "component" && a.Value.String() == "ferretdb" {
				fromFerretDB = true
			}
			return true
		})
		if fromFerretDB && r.Level < slog.LevelError {
			t.Errorf("FerretDB logged at %v: %q", r.Level, r.Message)
		}
		if !fromFerretDB && r.Message == "FerretDB started" {
			started = true
		}
	}
	if !started {
		t.Errorf("no %q record among %d", "FerretDB started", len(*h.records))
	}
}

func TestMinLevelHandler(t *testing.T) {
	t.Parallel()
	h := minLevelHandler{min: slog.LevelError, next: newRecordingHandler()}
	for _, tc := range []struct {
		level slog.Level
		want  bool
	}{
		{slog.LevelDebug, false},
		{slog.LevelInfo, false},
		{slog.LevelWarn, false},
		{slog.LevelError, true},
		{slog.LevelError + 4, true},
	} {
		for _, h := range []slog.Handler{h, h.WithAttrs([]slog.Attr{slog.Int("a", 1)}), h.WithGroup("g")} {
			if got := h.Enabled(context.Background(), tc.level); got != tc.want {
				t.Errorf("%T.Enabled(%v) = %v, want %v", h, tc.level, got, tc.want)
			}
		}
	}
}

func TestMongoStopNil(t *testing.T) {
	t.Parallel()
	var m *Mongo
	if err := m.Stop(); err != nil {
		t.Errorf("Stop on nil *Mongo: %v, want nil", err)
	}
}
