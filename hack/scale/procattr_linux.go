package main

import "syscall"

// childProcAttr makes the kernel stop a child when the harness dies, however it dies;
// localcluster then stops its etcd and kube-apiserver.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
