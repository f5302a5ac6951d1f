//go:build unix

package store

import (
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// signalView reads the change signal through a shared read-only memory map,
// which every process's writes to the file show through at once.
type signalView struct{ mem []byte }

func newSignalView(f *os.File) (signalView, error) {
	mem, err := syscall.Mmap(int(f.Fd()), 0, signalSize, syscall.PROT_READ, syscall.MAP_SHARED)
	return signalView{mem: mem}, err
}

func (v signalView) load() uint64 {
	// The map is page-aligned, so this is an aligned 8-byte load.
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&v.mem[0])))
}

func (v signalView) close() { syscall.Munmap(v.mem) }
