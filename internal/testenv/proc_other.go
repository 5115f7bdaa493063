//go:build !linux

package testenv

import "syscall"

// serverProcAttr runs the server as the current user. Dropping root and the
// parent-death signal are implemented for Linux only (see proc_linux.go);
// elsewhere a server orphaned by a killed test binary must be stopped by hand.
func serverProcAttr(dir string) (*syscall.SysProcAttr, error) {
	return nil, nil
}
