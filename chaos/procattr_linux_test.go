package chaos

import "syscall"

// nodeProcAttr kills a node with the test binary (parent-death signal).
func nodeProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
