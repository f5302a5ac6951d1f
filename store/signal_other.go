//go:build !unix

package store

import (
	"encoding/binary"
	"os"
)

// signalView reads the change signal with one read per check where memory
// maps are not to hand.
type signalView struct{ f *os.File }

func newSignalView(f *os.File) (signalView, error) { return signalView{f: f}, nil }

func (v signalView) load() uint64 {
	var b [8]byte
	v.f.ReadAt(b[:], 0)
	return binary.LittleEndian.Uint64(b[:])
}

func (v signalView) close() {}
