//go:build !unix

package embedded

import "syscall"

// sysProcAttr returns nil: there are no process groups to set here.
func sysProcAttr() *syscall.SysProcAttr {
	return nil
}
