package testenv

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// serverProcAttr returns how to run initdb and postgres.
//
// postgres refuses to run as root, and containers and CI jobs often are root.
// Then it drops to the "postgres" OS user that the Debian/Ubuntu server
// packages create, directly through the fork's credentials rather than via
// su/runuser, which need PAM or a shell and are not always installed; the
// data dir is handed to that user.
func serverProcAttr(dir string) (*syscall.SysProcAttr, error) {
	// SIGQUIT is immediate shutdown: the data is disposable, so don't wait.
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGQUIT}
	if os.Geteuid() != 0 {
		return attr, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and postgres refuses root, but there is no OS user to run it as: %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	if err := os.Chown(dir, int(uid), int(gid)); err != nil {
		return nil, err
	}
	attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return attr, nil
}
