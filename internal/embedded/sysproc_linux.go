package embedded

import "syscall"

// sysProcAttr puts the child in its own process group, so that a Ctrl-C in
// the terminal (SIGINT to the foreground group) reaches only the parent,
// which stops the child in order. Pdeathsig stops the child when the parent
// dies without calling Stop (say, a test binary that timed out), so that no
// orphan keeps writing to the data folder. Linux sends it when the thread
// that started the child exits; Go only ends threads locked with
// runtime.LockOSThread, which this package does not use.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
