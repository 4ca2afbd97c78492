package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// mongoReadyTimeout bounds how long StartMongo waits for a first ping.
const mongoReadyTimeout = 10 * time.Second

// ferretdbNewMu serialises ferretdb.New, which writes a package-level
// variable of FerretDB's (version.Get().Package) without a lock.
var ferretdbNewMu sync.Mutex

// Mongo is a running MongoDB wire-protocol server (FerretDB, SQLite backend).
type Mongo struct {
	// URI is the server's connection string for the official driver, e.g.
	// mongodb://127.0.0.1:27017/.
	URI string

	cancel   context.CancelFunc
	done     chan struct{} // closed when Run has returned
	runErr   error         // Run's result; read it after done is closed
	stopOnce sync.Once
}

// Stop stops the server and waits until its listener, connections and
// SQLite files are closed. FerretDB gives clients that are still connected
// three seconds to go, so disconnect them first. Stop is idempotent and safe
// on a nil *Mongo.
func (m *Mongo) Stop() error {
	if m == nil {
		return nil
	}
	m.stopOnce.Do(func() {
		m.cancel()
		<-m.done
	})
	if m.runErr != nil {
		return fmt.Errorf("stop FerretDB: %w", m.runErr)
	}
	return nil
}

// StartMongo starts embedded FerretDB with its SQLite files under dir
// (created if missing), listening on 127.0.0.1:port (0 picks a free port),
// and returns once it has answered a ping.
//
// FerretDB writes nothing outside dir: the embedded build keeps its process
// state in memory, has telemetry off and runs no debug or metrics listener.
// It logs through logger's handler at level error and above only; a nil
// logger means slog.Default().
//
// ctx bounds the start only: cancelling it later does not stop the server;
// call Stop.
func StartMongo(ctx context.Context, dir string, port int, logger *slog.Logger) (*Mongo, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := checkPort(port); err != nil {
		return nil, fmt.Errorf("start FerretDB: %w", err)
	}
	// FerretDB turns the folder back into SQLite URIs without escaping
	// it, and SQLite reads these characters as URI syntax.
	if strings.ContainsAny(dir, "%?#") {
		return nil, fmt.Errorf("start FerretDB: data folder %q: contains %%, ? or #, which FerretDB cannot handle", dir)
	}
	dir, err := prepareDir(dir)
	if err != nil {
		return nil, fmt.Errorf("start FerretDB: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start FerretDB: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if port != 0 {
		// ferretdb.New opens the SQLite backend before it listens and
		// does not close it when listening fails; FerretDB's leak
		// tracker then panics the process when the garbage collector
		// finds the open backend. Fail here instead while the port is
		// taken.
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("start FerretDB: %w", err)
		}
		_ = l.Close()
	}

	ferretdbNewMu.Lock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: addr},
		Handler:  "sqlite",
		// A folder, given as an SQLite URI; it must end with a slash.
		SQLiteURL: sqliteURL(dir),
		Logger:    slog.New(minLevelHandler{min: slog.LevelError, next: logger.Handler()}).With(slog.String("component", "ferretdb")),
	})
	ferretdbNewMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("start FerretDB: %w", err)
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m := &Mongo{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		m.runErr = f.Run(runCtx)
	}()
	m.URI = f.MongoDBURI()

	if err := pingMongo(ctx, m.URI); err != nil {
		_ = m.Stop()
		return nil, fmt.Errorf("start FerretDB on %s: %w", addr, err)
	}
	logger.Info("FerretDB started", slog.String("uri", m.URI), slog.String("dir", dir))
	return m, nil
}

// sqliteURL returns the SQLite URI of the folder dir (an absolute path), with
// the trailing slash FerretDB requires.
func sqliteURL(dir string) string {
	u := url.URL{Path: filepath.ToSlash(dir) + "/"}
	return "file:" + u.EscapedPath()
}

// pingMongo connects to uri with the official driver and pings it.
func pingMongo(ctx context.Context, uri string) (err error) {
	ctx, cancel := context.WithTimeout(ctx, mongoReadyTimeout)
	defer cancel()
	c, err := mongo.Connect(ctx, options.Client().ApplyURI(uri).SetServerSelectionTimeout(mongoReadyTimeout))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer dcancel()
		if derr := c.Disconnect(dctx); derr != nil && err == nil {
			err = fmt.Errorf("disconnect: %w", derr)
		}
	}()
	if err := c.Ping(ctx, nil); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// minLevelHandler passes on only records at or above min.
type minLevelHandler struct {
	min  slog.Level
	next slog.Handler
}

func (h minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.next.Enabled(ctx, l)
}

func (h minLevelHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.next.Handle(ctx, r)
}

func (h minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevelHandler{min: h.min, next: h.next.WithAttrs(attrs)}
}

func (h minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{min: h.min, next: h.next.WithGroup(name)}
}
