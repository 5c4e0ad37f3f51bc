package main

import (
	"os"
	"path/filepath"
	"testing"

	"opm/shm"
)

// The Go micro-benchmarks of scenario 1:
//
//	go test -run '^$' -bench . ./bench

func flagFixture(b *testing.B) (*shm.Flag, string) {
	dir, err := os.MkdirTemp(tmpfsDir(), "obf")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	f, err := shm.OpenFlag(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	if _, err := f.Acquire(0); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Release() })
	marker := filepath.Join(dir, "restore.marker")
	if err := os.WriteFile(marker, []byte(markerContent), 0o600); err != nil {
		b.Fatal(err)
	}
	return f, marker
}

func BenchmarkFlagInProgress(b *testing.B) {
	f, _ := flagFixture(b)
	benchFlag(b, f)
}

func BenchmarkStatMarker(b *testing.B) {
	_, marker := flagFixture(b)
	benchStat(b, marker)
}

func BenchmarkReadParseMarker(b *testing.B) {
	_, marker := flagFixture(b)
	benchReadParse(b, marker)
}
