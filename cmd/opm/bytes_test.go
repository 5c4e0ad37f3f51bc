package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// Arguments, environment values and paths are bytes on Linux, not text.
// An app started with bytes that are not UTF-8 — an argument after "--",
// a --env value, a value inherited from the caller's environment, a
// --cwd — gets them byte-exact, and gets them again after save, daemon
// stop and restore (the dump), and after a daemon restart (the runtime
// records the new daemon adopts the app from).
func TestNonUTF8BytesReachTheApp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cwd := filepath.Join(t.TempDir(), "dir-\xff\xfe-caf\xe9")
	if err := os.Mkdir(cwd, 0o700); err != nil {
		t.Fatal(err)
	}
	args := []string{"arg-\xff\xc3(-\x80", "plain", "caf\xe9"}
	flagEnv := "BYTES_FLAG= flag-\xfe\xff, a,b " // commas and spaces kept too
	inherited := "BYTES_INHERITED=inh-\xe9t\xe9\xed\xa0\x80"

	start := append([]string{"start", os.Args[0], "--name", "bytes", "--cwd", cwd,
		"--env", "OPM_TEST_CHILD=block", "--env", flagEnv, "--"}, args...)
	if r := e.runWith([]string{inherited}, start...); r.code != 0 {
		t.Fatal(r)
	}

	// check waits for the app to run and checks what its process got,
	// as the kernel shows it, and what the daemon reports; it returns
	// the pid.
	check := func(when string) int {
		t.Helper()
		app := e.waitStatus("bytes", api.StatusOnline, 10*time.Second)
		pid := app.PID
		argv := procList(t, pid, "cmdline")
		if len(argv) < len(args) || !slices.Equal(argv[len(argv)-len(args):], args) {
			t.Errorf("%s: the app's argv is %q, want it to end with %q", when, argv, args)
		}
		environ := procList(t, pid, "environ")
		for _, kv := range []string{flagEnv, inherited} {
			if !slices.Contains(environ, kv) {
				t.Errorf("%s: the app's environment lacks %q", when, kv)
			}
		}
		if dir, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err != nil || dir != cwd {
			t.Errorf("%s: the app runs in %q (%v), want %q", when, dir, err, cwd)
		}
		// The list leaves environments out; the app's own entry has it.
		var full []api.App
		if err := e.client().Do(t.Context(), "GET", api.TargetPath("bytes"), nil, &full); err != nil || len(full) != 1 {
			t.Fatalf("%s: get the app: %v", when, err)
		}
		s := full[0].Spec
		if s.Cwd != cwd || !slices.Contains(s.Env, flagEnv) || !slices.Contains(s.Env, inherited) || !slices.Equal(s.Argv[len(s.Argv)-len(args):], args) {
			t.Errorf("%s: the daemon reports cwd %q, argv %q, env %q", when, s.Cwd, s.Argv, s.Env)
		}
		return pid
	}
	check("after start")

	e.ok("save")
	e.ok("daemon", "stop")
	e.ok("restore")
	pid := check("after save, daemon stop and restore")

	e.ok("daemon", "restart")
	if now := e.app("bytes").PID; now != pid {
		t.Fatalf("after daemon restart the app has pid %d, want the adopted %d", now, pid)
	}
	check("after daemon restart")
	// The adopted definition is what the next process starts from.
	e.ok("restart", "bytes")
	testkit.WaitFor(t, "the app to run again", 10*time.Second, func() bool {
		a := e.app("bytes")
		return a.PID != pid && a.Status == api.StatusOnline
	})
	check("after a restart of the adopted app")
}

// procList reads /proc/<pid>/<file>, a list of NUL-terminated strings.
func procList(t *testing.T, pid int, file string) []string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		t.Fatalf("read %s of pid %d: %v", file, pid, err)
	}
	var out []string
	for _, b := range bytes.Split(bytes.TrimSuffix(data, []byte{0}), []byte{0}) {
		out = append(out, string(b))
	}
	return out
}

// A --json output is UTF-8 JSON that carries the bytes: decoded, it gives
// them back.
func TestJSONOutputCarriesBytes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	arg := "x\xff\xfey"
	e.ok("start", os.Args[0], "--name", "raw", "--env", "OPM_TEST_CHILD=block", "--env", "RAW=\xfe", "--", arg)
	for _, args := range [][]string{{"list", "--json"}, {"info", "raw", "--json"}} {
		r := e.ok(args...)
		if !printable(strings.ReplaceAll(r.stdout, "\n", "")) {
			t.Errorf("opm %s printed raw bytes: %q", strings.Join(args, " "), r.stdout)
		}
		if !strings.Contains(r.stdout, `"base64"`) {
			t.Errorf("opm %s: no base64 form in %s", strings.Join(args, " "), r.stdout)
		}
		apps := decodeApps(t, r.stdout)
		if len(apps) != 1 || !slices.Contains(apps[0].Spec.Argv, arg) {
			t.Errorf("opm %s: argv decodes to %q, want it to hold %q", strings.Join(args, " "), apps[0].Spec.Argv, arg)
		}
	}
	info := decodeApps(t, e.ok("info", "raw", "--json").stdout)
	if !slices.Contains(info[0].Spec.Env, "RAW=\xfe") {
		t.Errorf("opm info --json: env lacks RAW=\\xfe")
	}
}

func decodeApps(t *testing.T, out string) []api.App {
	t.Helper()
	var apps []api.App
	if err := json.Unmarshal([]byte(out), &apps); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	return apps
}

// printable reports whether s is valid UTF-8 holding only graphic runes:
// nothing a terminal would act on or reorder.
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsGraphic(r) })
}
