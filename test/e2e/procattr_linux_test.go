package e2e

import "syscall"

// childProcAttr makes the kernel kill a child when the test process dies, so a test killed by
// its timeout leaves no manager or fake behind.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
