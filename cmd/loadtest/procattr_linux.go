package main

import (
	"os/exec"
	"syscall"
)

// dieWithUs makes cmd get SIGTERM if loadtest dies first (killed, say), so
// that no server it started outlives it.
func dieWithUs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
