package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const nobody = 65534

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
	exe := sharedExe

	r := runAs(t, e.environ, exe, nobody, "list")
	t.Logf("nobody, the owner's home: exit %d: %s", r.code, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "OPM_HOME") || !strings.Contains(r.stderr, "another user") {
		t.Errorf("as nobody, with the owner's OPM_HOME: %v", r)
	}

	own, err := os.MkdirTemp("", "opmnobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(own) })
	if err := os.Chown(own, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	env := append(append([]string(nil), e.environ...), "OPM_HOME="+own)
	r = runAs(t, env, exe, nobody, "list")
	t.Logf("nobody, closed socket: exit %d: %s", r.code, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "belongs to uid 0, not to you") || !strings.Contains(r.stderr, "OPM_RUNTIME_DIR") {
		t.Errorf("as nobody, closed socket: %v", r)
	}

	// Open the directory and socket up, as a careless admin might.
	sock := filepath.Join(e.runtime, "opm.sock")
	chmod(t, e.runtime, 0o711)
	chmod(t, sock, 0o666)
	r = runAs(t, env, exe, nobody, "list")
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

// sharedExe is a copy of the test binary that any user may run, made
// once by TestMain before any test runs: a copy made while other tests
// fork could be held open for writing by a child between its fork and its
// exec, and running it would fail with "text file busy".
var sharedExe string

// copyExecutable makes sharedExe and returns its directory.
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

// runAs runs the opm binary exe as uid/gid, with the environment env.
func runAs(t *testing.T, env []string, exe string, uid uint32, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s as uid %d: %v", exe, uid, err)
	}
	return result{args: args, stdout: out.String(), stderr: errb.String(), code: code}
}
