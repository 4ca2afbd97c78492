package redis

import (
	"errors"
	"fmt"
)

// ErrUnavailable wraps every error that comes from talking to Redis:
// dialling, waiting for a connection, a timeout, or a command Redis
// refused. Every Redis adapter (this package and internal/session) wraps
// with it, so that the web layer answers all of them alike: 503, try again.
var ErrUnavailable = errors.New("redis unavailable")

// Unavailable wraps err, which came from talking to Redis, with
// ErrUnavailable and what was being done; nil stays nil.
func Unavailable(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w: %w", what, ErrUnavailable, err)
}
