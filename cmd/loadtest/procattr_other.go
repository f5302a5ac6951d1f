//go:build !linux

package main

import "os/exec"

// dieWithUs does nothing where the system cannot tie a child's life to its
// parent's.
func dieWithUs(*exec.Cmd) {}
