//go:build !linux

package testenv

import "syscall"

// slapdProcAttr: no parent-death signal outside Linux; Main and t.Cleanup
// stop slapd.
func slapdProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
