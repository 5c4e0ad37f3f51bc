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

func FuzzParseStartTime(f *testing.F) {
	f.Add([]byte("1 (sh) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 42 0 0"))
	f.Add([]byte("1 (a) b) c) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 7 0"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = parseStartTime(b) })
}

func TestParseStartTime(t *testing.T) {
	got, err := parseStartTime([]byte("12 (we ird) (name)) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 4242 1 2"))
	if err != nil || got != 4242 {
		t.Fatalf("parseStartTime = %d, %v; want 4242", got, err)
	}
}
