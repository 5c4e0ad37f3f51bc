package shm

import (
	"bytes"
	"testing"
)

// The header decoder must never panic and must accept only real pages.
func FuzzDecodeHeader(f *testing.F) {
	f.Add(newPage())
	f.Add([]byte{})
	f.Add([]byte("OPMFLAG\x00"))
	short := newPage()[:64]
	f.Add(short)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHeader(b)
		if err != nil {
			return
		}
		if len(b) != PageSize || !bytes.Equal(h.Magic[:], magic[:]) || h.Version != Version || h.Size != PageSize {
			t.Fatalf("accepted a bad header: %+v (len %d)", h, len(b))
		}
	})
}
