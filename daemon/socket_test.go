package daemon

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

func TestListenSocketPath(t *testing.T) {
	dir := testkit.ShortTempDir(t)

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

// The daemon answers a client of another uid 403 forbidden, even when
// that client can reach the socket; its own uid still gets in. (The CLI's
// own checks, before it connects, are tested in cmd/opm.)
func TestOtherUserIsForbidden(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	d := startDaemon(t)
	// Let nobody reach the socket, so that the uid check is what refuses.
	if err := os.Chmod(d.rt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(api.SocketPath(d.rt), 0o666); err != nil {
		t.Fatal(err)
	}
	c := testkit.Command("peer-status", []string{testkit.DirEnv + "=" + d.rt})
	c.Cmd.Path = testkit.SharedExe(t)
	c.Cmd.SysProcAttr = testkit.Intruder{UID: testkit.Nobody, GID: testkit.Nobody}.As()
	out := c.Start(t).Rest()
	if code := c.Wait(); code != 0 {
		t.Fatalf("client as nobody: exit %d: %s", code, out)
	}
	if !strings.HasPrefix(out, "403 ") || !strings.Contains(out, `"code":"forbidden"`) {
		t.Fatalf("nobody got %q, want 403 forbidden", out)
	}
	if _, err := d.cl.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}
