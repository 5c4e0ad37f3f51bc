package daemon

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListenSocketPath(t *testing.T) {
	dir := shortTempDir(t)

	long := filepath.Join(dir, strings.Repeat("x", 120), "opm.sock")
	if _, err := listen(long); err == nil || !strings.Contains(err.Error(), "OPM_RUNTIME_DIR") {
		t.Fatalf("long path: err = %v, want advice to shorten OPM_RUNTIME_DIR", err)
	}

	// A socket left by a dead daemon is replaced.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	l2, err := listen(stale)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	fi, err := os.Stat(stale)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, %v; want 0600", fi.Mode(), err)
	}
	l2.Close()

	// Anything else at the path is left alone.
	file := filepath.Join(dir, "file.sock")
	if err := os.WriteFile(file, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := listen(file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("regular file: err = %v", err)
	}
	if got := readFile(t, file); got != "keep me" {
		t.Fatalf("file changed to %q", got)
	}
}
