package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opm/daemon/testkit"
)

// Another user cannot use the daemon. With the owner's OPM_HOME, the CLI
// refuses the home itself. With a home of their own but the owner's
// runtime directory, the CLI checks that directory before it connects:
// another user's directory is refused with a message naming its owner,
// whether the directory and socket are closed or were opened up by a
// careless admin (the daemon's own peer-uid check, behind it, is tested in
// package daemon). None of it starts a second daemon.
func TestOtherUserRefused(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a command as nobody")
	}
	e := newEnv(t)
	e.ok("daemon", "start")
	daemon := e.daemonStatus().PID

	r := e.runAs(testkit.Nobody, e.environ, "list")
	t.Logf("nobody, the owner's home: exit %d: %s", r.code, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "OPM_HOME") || !strings.Contains(r.stderr, "another user") {
		t.Errorf("as nobody, with the owner's OPM_HOME: %v", r)
	}

	own := testkit.ShortTempDir(t)
	if err := os.Chown(own, testkit.Nobody, testkit.Nobody); err != nil {
		t.Fatal(err)
	}
	env := append(append([]string(nil), e.environ...), "OPM_HOME="+own)
	r = e.runAs(testkit.Nobody, env, "list")
	t.Logf("nobody, closed socket: exit %d: %s", r.code, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "belongs to uid 0, not to you") || !strings.Contains(r.stderr, "OPM_RUNTIME_DIR") {
		t.Errorf("as nobody, closed socket: %v", r)
	}

	// Open the directory and socket up, as a careless admin might.
	sock := filepath.Join(e.runtime, "opm.sock")
	chmod(t, e.runtime, 0o711)
	chmod(t, sock, 0o666)
	r = e.runAs(testkit.Nobody, env, "list")
	chmod(t, sock, 0o600)
	chmod(t, e.runtime, 0o700)
	t.Logf("nobody, open socket: exit %d: %s", r.code, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "uid 0") {
		t.Errorf("as nobody, open socket: %v", r)
	}
	if procs := e.marked(); len(procs) != 1 || procs[0] != daemon {
		t.Errorf("processes %v, want only the daemon %d", procs, daemon)
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
