//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package redis

import (
	"errors"
	"syscall"
)

// socketAlive peeks at the socket without blocking: end-of-file or an error
// means the server has closed the connection. Pending bytes do not: the
// driver will read them (over TLS they may be a session ticket).
func socketAlive(rc syscall.RawConn) bool {
	alive := true
	err := rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n > 0:
		case err == nil: // n == 0: end of file
			alive = false
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EINTR):
		default:
			alive = false
		}
		return true // done; never wait for the socket to become readable
	})
	return err == nil && alive
}
