// Package datalock keeps two development processes off one data folder.
//
// The embedded Redis and FerretDB of `make run` keep their files in
// DATA_DIR. A second process that started its own servers on the same
// files would corrupt them (two redis-servers appending to one file) and
// replace the first one's dev-services.env, so that `gatehouse user`
// commands would act on the wrong servers. Whoever starts embedded
// services takes an exclusive lock on DATA_DIR/gatehouse.lock first, for
// as long as the services run, and writes who it is into
// DATA_DIR/gatehouse.lock.json so that a refusal can name it.
//
// The lock is flock(2) (LockFileEx on Windows) through github.com/gofrs/flock:
// the kernel drops it when its holder dies, however it dies, so a crash
// never leaves a stale lock behind. The lock file itself stays; only the
// lock on it counts. The description is a file of its own because Windows
// does not let anyone read or write a locked file through another handle.
package datalock

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// The lock file's name inside the data folder, and its holder's
// description's.
const (
	FileName       = "gatehouse.lock"
	holderFileName = "gatehouse.lock.json"
)

// Holder says who holds a data folder: enough for a person to find the
// process and stop it.
type Holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"` // "serve", "user add", ...
	Started time.Time `json:"started"`
	URL     string    `json:"url,omitempty"` // where a server listens, once it does
}

// Lock is a held data folder. Release lets it go.
type Lock struct {
	fl     *flock.Flock
	dir    string
	holder Holder
}

// InUseError reports a data folder locked by another process (or by
// another Lock in this one).
type InUseError struct {
	Dir    string
	Holder Holder // zero when the holder has not said who it is yet
}

func (e *InUseError) Error() string {
	h := e.Holder
	if h.PID == 0 {
		return fmt.Sprintf("data folder %s is in use by another gatehouse process (it locks %s); stop it first",
			e.Dir, filepath.Join(e.Dir, FileName))
	}
	what := "started " + clock(h.Started)
	if h.URL != "" {
		what += ", " + h.URL
	}
	return fmt.Sprintf("data folder %s is in use by gatehouse %s, pid %d (%s); stop it first", e.Dir, h.Command, h.PID, what)
}

// clock is a start time as a person would say it: 10:42 today, else with
// the date.
func clock(t time.Time) string {
	t = t.Local()
	y, m, d := t.Date()
	if ny, nm, nd := time.Now().Date(); y == ny && m == nm && d == nd {
		return t.Format("15:04")
	}
	return t.Format("2006-01-02 15:04")
}

// Acquire locks dir (creating it when missing) for h, or returns an
// *InUseError naming the process that holds it. It never waits. A refusal
// touches nothing in dir but the (empty) lock file.
func Acquire(dir string, h Holder) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	fl := flock.New(filepath.Join(dir, FileName))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock data folder %s: %w", dir, err)
	}
	if !ok {
		return nil, &InUseError{Dir: dir, Holder: readHolder(dir)}
	}
	l := &Lock{fl: fl, dir: dir, holder: h}
	if err := l.write(); err != nil {
		_ = fl.Unlock()
		return nil, err
	}
	return l, nil
}

// SetURL records where the holder's server listens, for the next refusal
// to show.
func (l *Lock) SetURL(url string) error {
	l.holder.URL = url
	return l.write()
}

func (l *Lock) write() error {
	b, err := json.Marshal(l.holder)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(l.dir, holderFileName), append(b, '\n'), 0o640); err != nil {
		return fmt.Errorf("describe the data folder's holder: %w", err)
	}
	return nil
}

// Release removes the holder's description and unlocks; a second call
// does nothing. The lock file stays: removing it would let a process that
// opened it just before lock a file that no longer has a name, while the
// next one locks a new file.
func (l *Lock) Release() error {
	if !l.fl.Locked() {
		return nil
	}
	_ = os.Remove(filepath.Join(l.dir, holderFileName))
	return l.fl.Unlock()
}

// Check reports whether dir is free: nil when no process holds it (or it
// does not exist), an *InUseError when one does. It creates nothing.
func Check(dir string) error {
	path := filepath.Join(dir, FileName)
	fl := flock.New(path, flock.SetFlag(os.O_RDONLY))
	ok, err := fl.TryLock()
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check data folder %s: %w", dir, err)
	}
	if !ok {
		return &InUseError{Dir: dir, Holder: readHolder(dir)}
	}
	return fl.Unlock()
}

// readHolder reads who holds dir's lock; the zero Holder when the
// description is missing or half-written.
func readHolder(dir string) Holder {
	var h Holder
	if b, err := os.ReadFile(filepath.Join(dir, holderFileName)); err == nil {
		_ = json.Unmarshal(b, &h)
	}
	return h
}
