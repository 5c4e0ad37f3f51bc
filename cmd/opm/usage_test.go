package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// A relative OPM_HOME means the directory from where the command runs —
// for the daemon it starts too, which runs in /.
func TestRelativeHome(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	parent, rel := filepath.Dir(e.home), filepath.Base(e.home)
	r := e.runIn(parent, []string{"OPM_HOME=" + rel}, "start", os.Args[0], "--name", "web", "--env", "OPM_TEST_CHILD=block")
	if r.code != 0 {
		t.Fatalf("start with OPM_HOME=%s from %s: %v", rel, parent, r)
	}
	var st api.DaemonStatus
	if err := json.Unmarshal([]byte(e.runIn(parent, []string{"OPM_HOME=" + rel}, "daemon", "status", "--json").stdout), &st); err != nil {
		t.Fatal(err)
	}
	if st.Home != e.home {
		t.Errorf("the daemon serves OPM_HOME %s, want %s", st.Home, e.home)
	}
	if _, err := os.Stat(filepath.Join("/", rel)); err == nil {
		t.Errorf("a stray /%s was made", rel)
	}
	if apps := e.apps(); len(apps) != 1 || apps[0].Name != "web" {
		t.Errorf("the daemon of the absolute home has %+v, want web", apps)
	}
}

// `info all` and `env all` show apps in full, environment included; only
// `list` leaves environments out.
func TestTargetAllInFull(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startApp("web", "block", "--env", "WEB_ONLY=1")
	if out := e.ok("info", "all").stdout; strings.Contains(out, "0 variables") || !strings.Contains(out, "variables") {
		t.Errorf("info all shows no environment:\n%s", out)
	}
	if out := e.ok("env", "all").stdout; !strings.Contains(out, "WEB_ONLY=1\n") {
		t.Errorf("env all does not print the app's environment:\n%s", out)
	}
	var listed []api.App
	if err := json.Unmarshal([]byte(e.ok("list", "--json").stdout), &listed); err != nil || len(listed) != 1 || listed[0].Spec.Env != nil {
		t.Errorf("list --json: %v %+v; want one app without its environment", err, listed)
	}
}

// The CPU figure is a rate over a window of its own: looks in a row show a
// busy app busy each time, not idle over the milliseconds between them.
func TestCPUDoesNotDependOnTheLastAsker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startApp("spin", "busy")
	testkit.WaitFor(t, "the app to have run a while", 10*time.Second, func() bool { return e.app("spin").UptimeMs > 300 })
	for i := range 3 {
		cpu := e.app("spin").CPU
		t.Logf("look %d: %.1f%%", i, cpu)
		if cpu < 10 {
			t.Fatalf("look %d shows %.1f%% for an app that spins", i, cpu)
		}
	}
}

// A relative script is found from where the command runs, as in PM2;
// --cwd sets only where the app runs.
func TestCwdDoesNotMoveTheScript(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	here, elsewhere := t.TempDir(), t.TempDir()
	script := filepath.Join(here, "app.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\npwd\nexec sleep 3600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if r := e.runIn(here, nil, "start", "app.sh", "--cwd", elsewhere, "--name", "sh"); r.code != 0 {
		t.Fatalf("start app.sh --cwd elsewhere: %v", r)
	}
	a := e.app("sh")
	if a.Spec.Cwd != elsewhere || a.Spec.Argv[len(a.Spec.Argv)-1] != script {
		t.Errorf("cwd %s argv %q; want cwd %s and the script %s", a.Spec.Cwd, a.Spec.Argv, elsewhere, script)
	}
	testkit.WaitFor(t, "the app to print where it runs", 10*time.Second, func() bool {
		return strings.Contains(e.ok("logs", "sh").stdout, elsewhere)
	})
}

// `opm start <existing app> <new settings>` is not read as a new command
// named like the app: the app is changed and restarted with them, keeping
// its saved environment; -e is PM2's --error, and says so.
func TestStartExistingWithSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	web := e.startApp("web", "block")
	r := e.runWith([]string{"CALLER_ONLY=1"}, "start", "web", "--env", "FOO=x")
	if r.code != 0 {
		t.Fatalf("start web --env FOO=x: %v", r)
	}
	a := e.app("web")
	if a.ID != web.ID || a.PID == web.PID || len(e.apps()) != 1 {
		t.Errorf("after the change: %+v; want web, same id, a new process", e.apps())
	}
	env := strings.Join(a.Spec.Env, "\n")
	if !strings.Contains(env, "FOO=x") || strings.Contains(env, "CALLER_ONLY=1") || !strings.Contains(env, "OPM_TEST_CHILD=block") {
		t.Errorf("env after the change:\n%s\nwant the saved environment with FOO=x, not the caller's", env)
	}
	if r := e.run("start", "web", "-e", "FOO=x"); r.code != 2 || !strings.Contains(r.stderr, "--error") || !strings.Contains(r.stderr, "--env KEY=VALUE") {
		t.Errorf("start web -e FOO=x: %v", r)
	}
}

// -i is PM2's instance count: taken, shown by info, changed by a start
// of the app with another count; -e stays PM2's error log flag.
func TestInstancesFlag(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("start", os.Args[0], "--name", "web", "--env", "OPM_TEST_CHILD=block", "-i", "4")
	if rows := e.rows("web"); len(rows) != 4 || rows[3].Instances != 4 || rows[3].Status != api.StatusOnline {
		t.Fatalf("after -i 4: %+v; want 4 online rows", rows)
	}
	if info := e.ok("info", "web").stdout; !strings.Contains(info, "4 (this is instance 0)") {
		t.Errorf("info does not show the instances:\n%s", info)
	}
	e.ok("start", "web", "-i", "2")
	if rows := e.rows("web"); len(rows) != 2 || rows[1].Instances != 2 {
		t.Errorf("after -i 2: %+v; want 2 rows", rows)
	}
	if r := e.run("start", os.Args[0], "--name", "bad", "-i", "lots"); r.code != 2 || !strings.Contains(r.stderr, "instances") {
		t.Errorf("-i lots: %v\nwant exit 2 and what a count is", r)
	}
	if r := e.run("start", os.Args[0], "--name", "other", "-e", "PATH=/usr/bin"); r.code != 2 || !strings.Contains(r.stderr, "--env KEY=VALUE") {
		t.Errorf("-e PATH=/usr/bin: %v\nwant exit 2 and a pointer to --env", r)
	}
}

// Flags opm does not know are named as typed; PM2's are named as such.
func TestUnknownFlagsAsTyped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"start", "app.js", "--no-treekill"}, "--no-treekill is a PM2 flag that opm does not have yet"},
		{[]string{"start", "app.js", "-f"}, "-f is a PM2 flag"},
		{[]string{"list", "--bogus"}, "unknown flag --bogus"},
		{[]string{"list", "-bogus"}, "unknown flag -bogus"},
		{[]string{"start", "app.js", "--name"}, "--name needs a value"},
	} {
		r := e.run(tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("opm %s: %v\nwant exit 2 and %q", strings.Join(tc.args, " "), r, tc.want)
		}
	}
}

// A process that cannot be started is one failure, exit 1, whether it is
// the app's first start or a later one.
func TestStartFailureExitCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("\x7fELF not really"), 0o755); err != nil {
		t.Fatal(err)
	}
	if r := e.run("start", bad, "--name", "bad"); r.code != 1 || !strings.Contains(r.stderr, "cannot start") {
		t.Errorf("first start of an unrunnable file: %v\nwant exit 1", r)
	}
	good := filepath.Join(t.TempDir(), "good")
	if err := os.WriteFile(good, []byte("#!/bin/sh\nexec sleep 3600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.ok("start", good, "--name", "good")
	if err := os.WriteFile(good, []byte("\x7fELF not really"), 0o755); err != nil {
		t.Fatal(err)
	}
	if r := e.run("restart", "good"); r.code != 1 || !strings.Contains(r.stderr, "cannot start") {
		t.Errorf("restart of an app that can no longer start: %v\nwant exit 1", r)
	}
}
