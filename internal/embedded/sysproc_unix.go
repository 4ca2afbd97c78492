//go:build unix && !linux

package embedded

import "syscall"

// sysProcAttr puts the child in its own process group, so that a Ctrl-C in
// the terminal (SIGINT to the foreground group) reaches only the parent,
// which stops the child in order.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
