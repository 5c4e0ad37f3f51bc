package testkit

import (
	"syscall"
	"testing"
)

// MountTmpfs mounts a tmpfs of size (e.g. "1m"), mode 0700, on dir until
// the test ends; it skips the test where that is not possible. A test that
// has a daemon serve from the mount stops it in a cleanup registered
// after this call: cleanups run last in, first out.
func MountTmpfs(t testing.TB, dir, size string) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
}
