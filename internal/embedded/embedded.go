// Package embedded starts development stand-ins for the servers Gatehouse
// depends on, Redis and MongoDB, from inside the calling process.
//
// It exists so that the development build (`make run`) and the tests work on
// a machine that has only Go installed: MongoDB cannot be installed on every
// developer machine, so FerretDB (a MongoDB wire-protocol server written in
// Go, here with its SQLite backend) is linked in and served on a loopback
// port; Redis is the real redis-server when it is on PATH, run as a child
// process with its files in a given folder, or else an in-memory miniredis.
//
// The package links FerretDB (about 60 modules and 25 MB), so only the
// development build and tests may import it, never the production binary.
package embedded

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// prepareDir creates dir when it is missing and returns its absolute path.
func prepareDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("empty data folder")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("data folder %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return "", fmt.Errorf("create data folder: %w", err)
	}
	return abs, nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago. It is
// a variable so that tests can make it return a port that is taken.
var freePort = func() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return port, nil
}

// checkPort reports whether port is in the range a listener accepts (0 means
// any free port).
func checkPort(port int) error {
	if port < 0 || port > 65535 {
		return fmt.Errorf("port %d out of range 0-65535", port)
	}
	return nil
}
