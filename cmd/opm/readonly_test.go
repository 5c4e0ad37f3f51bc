package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/daemon/testkit"
	"opm/shm"
)

// mountReadOnly makes dir read-only in place, as a read-only root file
// system makes OPM_HOME on an appliance: a bind mount of dir on itself,
// remounted read-only. Cleanup undoes it. Skipped when not root or when
// mounts are not allowed here.
func mountReadOnly(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a read-only OPM_HOME is tested with a read-only bind mount, which needs root")
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount %s here (%v): a read-only OPM_HOME is not tested", dir, err)
	}
	t.Cleanup(func() {
		// Lazily: apps that ran in OPM_HOME (their cwd) may still be
		// on their way out.
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("umount %s: %v", dir, err)
		}
	})
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot remount %s read-only here (%v): a read-only OPM_HOME is not tested", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "probe"), nil, 0o600); err == nil {
		t.Fatalf("%s is still writable after the read-only remount", dir)
	}
}

// A read-only OPM_HOME (its dump saved while it was writable) with log_dir
// in config.toml: the daemon starts, restore starts the saved apps once,
// start, list, logs, stop, restart and delete work, the logs and
// daemon.log land in log_dir, the secret of this boot is kept in the
// runtime dir, and save fails saying why, leaving the dump as it was.
func TestReadOnlyHome(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a read-only OPM_HOME is tested with a read-only bind mount, which needs root")
	}
	logDir := filepath.Join(t.TempDir(), "logs") // made by the daemon
	e := newEnvConfig(t, fastConfig+"log_dir = \""+logDir+"\"\n")
	names := e.savedApps(2)
	dumpPath := filepath.Join(e.home, api.DumpName)
	dump, err := os.ReadFile(dumpPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(logDir, "app0-out.log")); err != nil {
		t.Errorf("the apps' logs are not in log_dir: %v", err)
	}
	e.freshContainer(names)
	// A home without a secret: the image was built without starting opm.
	if err := os.Remove(filepath.Join(e.home, shm.SecretName)); err != nil {
		t.Fatal(err)
	}
	mountReadOnly(t, e.home)

	e.ok("restore")
	testkit.WaitFor(t, "the saved apps to run", 20*time.Second, func() bool {
		return e.running(names[0]) == 1 && e.running(names[1]) == 1
	})
	e.checkExactlyOnce(names, "after restore from a read-only OPM_HOME")
	e.ok("restore")
	e.checkExactlyOnce(names, "after a second restore")

	e.startApp("web", "block")
	testkit.WaitLogPID(t, filepath.Join(logDir, "web-out.log"), "block ", 1)
	if out := e.ok("list").stdout; !strings.Contains(out, "web") || !strings.Contains(out, names[0]) {
		t.Errorf("list misses apps:\n%s", out)
	}
	if out := e.ok("logs", "web", "--lines", "5").stdout; !strings.Contains(out, "block ") {
		t.Errorf("opm logs web does not show the app's output:\n%s", out)
	}
	e.ok("stop", "web")
	e.ok("restart", "web")
	e.waitStatus("web", "online", 10*time.Second)
	e.ok("delete", "web")

	st := e.daemonStatus()
	if st.LogDir != logDir || st.DaemonLog != filepath.Join(logDir, api.DaemonLogName) {
		t.Errorf("daemon status: log dir %q, daemon log %q; want %s", st.LogDir, st.DaemonLog, logDir)
	}
	status := e.ok("daemon", "status").stdout
	for _, want := range []string{"is read-only", "logs go to " + logDir, filepath.Join(e.runtime, shm.SecretName)} {
		if !strings.Contains(status, want) {
			t.Errorf("daemon status does not say %q:\n%s", want, status)
		}
	}
	fi, err := os.Lstat(filepath.Join(e.runtime, shm.SecretName))
	if err != nil || fi.Mode() != 0o600 || fi.Size() != 32 {
		t.Errorf("the secret in the runtime dir: %v %v", fi, err)
	}
	dlog, err := os.ReadFile(filepath.Join(logDir, api.DaemonLogName))
	if err != nil || !bytes.Contains(dlog, []byte("daemon started")) {
		t.Errorf("daemon.log is not in log_dir: %v", err)
	}

	r := e.run("save")
	if r.code == 0 || !strings.Contains(r.stderr, "OPM_HOME ("+e.home+") is read-only: the dump cannot be written") {
		t.Errorf("save on a read-only OPM_HOME: want a clear refusal, got %v", r)
	}
	if now, err := os.ReadFile(dumpPath); err != nil || !bytes.Equal(now, dump) {
		t.Errorf("the dump changed after a refused save: %v", err)
	}
	e.checkExactlyOnce(names, "at the end")
}

// A read-only OPM_HOME without log_dir: the logs have nowhere to go, and
// the daemon refuses to start, naming log_dir and OPM_LOG_DIR (logs
// silently in RAM would fill the runtime tmpfs, and with it the room
// apps need to start). With OPM_LOG_DIR it starts.
func TestReadOnlyHomeNeedsLogDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a read-only OPM_HOME is tested with a read-only bind mount, which needs root")
	}
	e := newEnv(t)
	mountReadOnly(t, e.home)

	r := e.run("list")
	if r.code == 0 || !strings.Contains(r.stderr, "is read-only") || !strings.Contains(r.stderr, "log_dir") || !strings.Contains(r.stderr, "OPM_LOG_DIR") {
		t.Fatalf("a daemon with a read-only OPM_HOME and no log_dir: want a refusal naming log_dir and OPM_LOG_DIR, got %v", r)
	}
	if d := e.daemons(); len(d) != 0 {
		t.Fatalf("daemons run after the refusal: %v", d)
	}

	logDir := filepath.Join(t.TempDir(), "opm-logs")
	e.environ = append(e.environ, "OPM_LOG_DIR="+logDir)
	e.startApp("web", "block")
	testkit.WaitLogPID(t, filepath.Join(logDir, "web-out.log"), "block ", 1)
	if st := e.daemonStatus(); st.LogDir != logDir {
		t.Errorf("daemon status: log dir %q, want %s (OPM_LOG_DIR)", st.LogDir, logDir)
	}
	if _, err := os.Stat(filepath.Join(logDir, api.DaemonLogName)); err != nil {
		t.Errorf("daemon.log is not in OPM_LOG_DIR: %v", err)
	}
}
