//go:build !linux

package chaos

import "syscall"

// nodeProcAttr: the parent-death signal is Linux only; elsewhere nodes of
// an aborted test binary must be stopped by hand.
func nodeProcAttr() *syscall.SysProcAttr { return nil }
