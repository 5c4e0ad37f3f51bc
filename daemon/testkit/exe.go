package testkit

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// sharedExe is the copy of the test binary that SharedExe returns.
var sharedExe string

// SharedExe is a copy of the test binary that any user may run (the
// binary itself sits in a directory only its builder may enter). Main
// makes it before any test runs: a copy made while other tests fork could
// be held open for writing by a child between its fork and its exec, and
// running it would fail with "text file busy".
func SharedExe(t testing.TB) string {
	t.Helper()
	if sharedExe == "" {
		t.Fatal("no shared copy of the test binary: the suite's TestMain must call testkit.Main")
	}
	return sharedExe
}

// copyExecutable makes sharedExe in a new directory, which it returns.
func copyExecutable() (string, error) {
	dir, err := os.MkdirTemp("", "opmexe")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return dir, err
	}
	src, err := os.Open(os.Args[0])
	if err != nil {
		return dir, err
	}
	defer src.Close()
	path := filepath.Join(dir, "opm")
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		return dir, err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return dir, err
	}
	if err := dst.Close(); err != nil {
		return dir, err
	}
	sharedExe = path
	return dir, nil
}
