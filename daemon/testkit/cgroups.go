package testkit

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"opm/daemon/cgroup"
)

// RemoveCgroups kills and removes whatever is left of the app cgroups of
// a daemon for home — after a test that killed its daemon, which then
// could not remove them — so that no test leaves a cgroup behind.
func RemoveCgroups(t testing.TB, home string) {
	t.Helper()
	dir, err := cgroup.Dir(home)
	if err != nil {
		return
	}
	if _, err := os.Stat(dir); err != nil {
		return
	}
	_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	// Killed processes take a moment to leave their cgroups.
	Poll(10*time.Second, func() bool {
		err = cgroup.RemoveTree(dir)
		return !errors.Is(err, syscall.EBUSY)
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("remove the test's cgroup %s: %v", dir, err)
	}
}
