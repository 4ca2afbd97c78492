package testenv

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/gatehouse/gatehouse/internal/embedded"
)

// config returns the value of a redis-server configuration parameter.
func config(t *testing.T, c redis.Conn, param string) string {
	t.Helper()
	kv, err := redis.Strings(c.Do("CONFIG", "GET", param))
	if err != nil || len(kv) != 2 {
		t.Fatalf("CONFIG GET %s = %q, %v", param, kv, err)
	}
	return kv[1]
}

// serverPID returns the pid the Redis server reports for itself.
func serverPID(t *testing.T, c redis.Conn) int {
	t.Helper()
	info, err := redis.String(c.Do("INFO", "server"))
	if err != nil {
		t.Fatalf("INFO server: %v", err)
	}
	m := regexp.MustCompile(`(?m)^process_id:(\d+)\r?$`).FindStringSubmatch(info)
	if m == nil {
		t.Fatalf("INFO server has no process_id:\n%s", info)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// hostOf returns host:port of rawURL.
func hostOf(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("parse %q: %v", rawURL, err)
	}
	return u.Host
}

// assertGone checks that nothing listens on addr and, when pid is not 0,
// that the process is gone.
func assertGone(t *testing.T, addr string, pid int) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		_ = c.Close()
		t.Errorf("dial %s after Stop: connected, want connection refused", addr)
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial %s after Stop: %v, want connection refused", addr, err)
	}
	if pid == 0 {
		return
	}
	if p, err := os.FindProcess(pid); err == nil {
		if err := p.Signal(syscall.Signal(0)); !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("signal 0 to pid %d after Stop: %v, want %v", pid, err, os.ErrProcessDone)
		}
	}
}

func TestRedis(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	tests := []struct {
		name           string
		args           []string
		wantAppendOnly string
	}{
		{"plain", nil, "no"},
		{"append-only file on request", []string{"--appendonly", "yes"}, "yes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, srv := Redis(t, tc.args...)
			if srv == nil {
				t.Fatal("srv = nil, want a private server")
			}
			if u != srv.URL {
				t.Errorf("url = %q, want srv.URL %q", u, srv.URL)
			}
			c := DialRedis(t, u)
			if _, err := c.Do("SET", "greeting", "hello"); err != nil {
				t.Fatalf("SET: %v", err)
			}
			if got, err := redis.String(c.Do("GET", "greeting")); err != nil || got != "hello" {
				t.Errorf("GET greeting = %q, %v, want %q", got, err, "hello")
			}
			if got := config(t, c, "appendonly"); got != tc.wantAppendOnly {
				t.Errorf("appendonly = %q, want %q", got, tc.wantAppendOnly)
			}
			pid := serverPID(t, c)
			_ = c.Close()

			if err := srv.Stop(); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			assertGone(t, hostOf(t, u), pid)
		})
	}
}

func TestRedisUsesREDIS_URL(t *testing.T) {
	const shared = "redis://shared.example:6379/3"
	t.Setenv("REDIS_URL", shared)
	u, srv := Redis(t, "--appendonly", "yes")
	if u != shared || srv != nil {
		t.Errorf("Redis = %q, %v, want %q, nil", u, srv, shared)
	}
}

func TestRedisServerRestart(t *testing.T) {
	t.Setenv("REDIS_URL", "redis://ignored.example:6379/0")
	dir, port := t.TempDir(), FreePort(t)

	first := RedisServer(t, dir, port)
	if want := fmt.Sprintf("redis://127.0.0.1:%d/0", port); first.URL != want {
		t.Errorf("URL = %q, want %q", first.URL, want)
	}
	c := DialRedis(t, first.URL)
	if _, err := c.Do("SET", "kept", "yes"); err != nil {
		t.Fatalf("SET: %v", err)
	}
	pid := serverPID(t, c)
	_ = c.Close()
	if err := first.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	assertGone(t, hostOf(t, first.URL), pid)

	second := RedisServer(t, dir, port)
	if second.URL != first.URL {
		t.Errorf("URL after restart = %q, want %q", second.URL, first.URL)
	}
	if got, err := redis.String(DialRedis(t, second.URL).Do("GET", "kept")); err != nil || got != "yes" {
		t.Errorf("GET kept after restart = %q, %v, want %q", got, err, "yes")
	}
}

// recordingTB records Skip and Fatal calls instead of acting on them; other
// methods go to the real test.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recordingTB) Skipf(format string, args ...any) { r.Skip(fmt.Sprintf(format, args...)) }

func (r *recordingTB) Fatal(args ...any) {
	r.failed = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recordingTB) Fatalf(format string, args ...any) { r.Fatal(fmt.Sprintf(format, args...)) }

func TestRedisServerMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("REDIS_URL", "")
	t.Setenv(SkipLogEnv, "") // these skips are the point, not a missing tool
	tests := []struct {
		ci       string
		wantSkip bool
	}{
		{"", true},
		{"false", true},
		{"true", false},
		{"1", false},
	}
	for _, tc := range tests {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			for name, start := range map[string]func(testing.TB){
				"Redis":       func(tb testing.TB) { Redis(tb) },
				"RedisServer": func(tb testing.TB) { RedisServer(tb, "", 0) },
			} {
				rec := &recordingTB{TB: t}
				done := make(chan struct{})
				go func() {
					defer close(done)
					start(rec)
				}()
				<-done
				switch {
				case tc.wantSkip && !strings.Contains(rec.skipped, "apt-get install -y redis-server"):
					t.Errorf("%s: skipped with %q, failed with %q; want a skip that says apt-get install -y redis-server", name, rec.skipped, rec.failed)
				case !tc.wantSkip && (rec.failed == "" || rec.skipped != ""):
					t.Errorf("%s: skipped with %q, failed with %q; want a failure", name, rec.skipped, rec.failed)
				}
			}
		})
	}
}

func TestMongo(t *testing.T) {
	t.Setenv("MONGO_URI", "")
	uri, db := Mongo(t)
	if !regexp.MustCompile(`^mongodb://127\.0\.0\.1:\d+/$`).MatchString(uri) {
		t.Errorf("uri = %q, want mongodb://127.0.0.1:PORT/", uri)
	}
	if want := regexp.MustCompile(`^t_TestMongo_[0-9a-f]{8}$`); !want.MatchString(db) {
		t.Errorf("db = %q, want it to match %s", db, want)
	}

	c, err := mongo.Connect(t.Context(), options.Client().ApplyURI(uri).SetTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Disconnect(t.Context()) })
	coll := c.Database(db).Collection("users")
	if _, err := coll.Indexes().CreateOne(t.Context(), mongo.IndexModel{
		Keys:    bson.D{{Key: "email", Value: 1}},
		Options: options.Index().SetUnique(true),
	}); err != nil {
		t.Fatalf("create unique index: %v", err)
	}
	if _, err := coll.InsertOne(t.Context(), bson.M{"email": "ada@example.com"}); err != nil {
		t.Fatalf("InsertOne: %v", err)
	}
	var got bson.M
	if err := coll.FindOne(t.Context(), bson.M{"email": "ada@example.com"}).Decode(&got); err != nil {
		t.Fatalf("FindOne: %v", err)
	}
	if got["email"] != "ada@example.com" {
		t.Errorf("FindOne = %v, want email ada@example.com", got)
	}
	_, err = coll.InsertOne(t.Context(), bson.M{"email": "ada@example.com"})
	if !mongo.IsDuplicateKeyError(err) {
		t.Errorf("InsertOne with a taken email: %v, want a duplicate key error", err)
	}
}

func TestMongoServerStopsWithTest(t *testing.T) {
	t.Setenv("MONGO_URI", "")
	var uri string
	t.Run("inner", func(t *testing.T) {
		uri, _ = Mongo(t)
	})
	assertGone(t, hostOf(t, uri), 0)
}

func TestMongoUsesMONGO_URI(t *testing.T) {
	shared, err := embedded.StartMongo(t.Context(), t.TempDir(), 0, nil)
	if err != nil {
		t.Fatalf("StartMongo: %v", err)
	}
	t.Cleanup(func() { _ = shared.Stop() })
	t.Setenv("MONGO_URI", shared.URI)

	c, err := mongo.Connect(t.Context(), options.Client().ApplyURI(shared.URI).SetTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Disconnect(t.Context()) })

	var db string
	t.Run("inner", func(t *testing.T) {
		var uri string
		uri, db = Mongo(t)
		if uri != shared.URI {
			t.Errorf("uri = %q, want MONGO_URI %q", uri, shared.URI)
		}
		if _, err := c.Database(db).Collection("c").InsertOne(t.Context(), bson.M{"x": 1}); err != nil {
			t.Fatalf("InsertOne: %v", err)
		}
		names, err := c.ListDatabaseNames(t.Context(), bson.M{"name": db})
		if err != nil || len(names) != 1 {
			t.Fatalf("ListDatabaseNames = %q, %v, want [%s]", names, err, db)
		}
	})
	names, err := c.ListDatabaseNames(t.Context(), bson.M{"name": db})
	if err != nil {
		t.Fatalf("ListDatabaseNames: %v", err)
	}
	if len(names) != 0 {
		t.Errorf("database %s still exists after the test ended: %q", db, names)
	}
}

func TestDBName(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^t_[A-Za-z0-9_]+_[0-9a-f]{8}$`)
	tests := []struct {
		testName, wantPrefix string
	}{
		{"TestUser", "t_TestUser_"},
		{"TestUser/login_with_ünïcode#01", "t_TestUser_login_with_n_code_01_"},
		{"TestX/" + strings.Repeat("long", 40), "t_TestX_longlong"},
		{"Test/../$weird. name", "t_Test_weird_name_"},
	}
	for _, tc := range tests {
		got := dbName(tc.testName)
		if !strings.HasPrefix(got, tc.wantPrefix) || !valid.MatchString(got) || len(got) > maxDBName {
			t.Errorf("dbName(%q) = %q, want prefix %q, match %s, at most %d bytes", tc.testName, got, tc.wantPrefix, valid, maxDBName)
		}
	}
	if a, b := dbName("TestSame"), dbName("TestSame"); a == b {
		t.Errorf("dbName gave %q twice, want a random suffix", a)
	}
}

func TestFreePort(t *testing.T) {
	t.Parallel()
	port := FreePort(t)
	if port <= 0 || port > 65535 {
		t.Fatalf("FreePort = %d, want 1-65535", port)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("listen on the free port %d: %v", port, err)
	}
	_ = l.Close()
}

// TestSkipNoted: a skip for a missing tool leaves a line in the file that
// $GATEHOUSE_TEST_SKIPS names, for `make test` to show.
func TestSkipNoted(t *testing.T) {
	log := filepath.Join(t.TempDir(), "skips")
	t.Setenv(SkipLogEnv, log)
	t.Setenv("CI", "")
	for range 2 {
		rec := &recordingTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			SkipOrFail(rec, "frobnicator not found: apt-get install -y frobnicator")
		}()
		<-done
		if rec.skipped == "" {
			t.Fatal("not skipped")
		}
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	line := "SKIP TestSkipNoted (internal/testenv): frobnicator not found: apt-get install -y frobnicator\n"
	if got := string(b); got != line+line {
		t.Errorf("skip log: got %q, want %q twice", got, line)
	}
}
