package testenv

import "syscall"

// slapdProcAttr kills slapd with the test binary.
func slapdProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
