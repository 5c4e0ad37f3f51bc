package testkit

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
)

// ShortTempDir is a fresh directory (mode 0700) with a short path, removed
// when the test ends: a socket's path must fit in sun_path (108 bytes),
// which t.TempDir's long names can overrun.
func ShortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "opm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// RandomHex is n random bytes, in hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
