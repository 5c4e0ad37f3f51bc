package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// pm2Prefix is where the bench and these tests install PM2, relative to
// the repository root (see bench/pm2install.go and `make testdeps`).
const pm2Prefix = "bench/.pm2"

var pm2Once struct {
	sync.Once
	bin string
	err error
}

// needPM2 is the path of the real PM2 under bench/.pm2, installed with
// npm when missing; the test is skipped when node or npm is missing or
// the install fails (no registry, say).
func needPM2(t *testing.T) string {
	t.Helper()
	pm2Once.Do(func() {
		if _, err := exec.LookPath("node"); err != nil {
			pm2Once.err = errors.New("node is not installed")
			return
		}
		prefix, err := filepath.Abs(filepath.Join("..", "..", pm2Prefix))
		if err != nil {
			pm2Once.err = err
			return
		}
		bin := filepath.Join(prefix, "node_modules", ".bin", "pm2")
		if _, err := os.Stat(bin); err == nil {
			pm2Once.bin = bin
			return
		}
		if _, err := exec.LookPath("npm"); err != nil {
			pm2Once.err = errors.New("npm is not installed, and PM2 is not in " + prefix)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "npm", "install", "--prefix", prefix, "--no-audit", "--no-fund", "pm2").CombinedOutput()
		if err != nil {
			pm2Once.err = errors.New("npm install pm2 failed (is the npm registry reachable? 'make testdeps' installs it): " + err.Error() + "\n" + string(out))
			return
		}
		pm2Once.bin = bin
	})
	if pm2Once.err != nil {
		t.Skipf("the PM2 tests need the real PM2: %v", pm2Once.err)
	}
	return pm2Once.bin
}

// pm2 is a private PM2: its own PM2_HOME, and the test's marker in its
// environment, so that its processes (and the apps imported from it)
// are found by the leftover check.
type pm2 struct {
	t       *testing.T
	bin     string
	home    string
	environ []string
}

func newPM2(t *testing.T, e *env) *pm2 {
	t.Helper()
	p := &pm2{t: t, bin: needPM2(t), home: testkit.ShortTempDir(t)}
	base := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "OPM_") || strings.HasPrefix(kv, "PM2_")
	})
	p.environ = append(base, "PM2_HOME="+p.home, e.mark)
	t.Cleanup(func() { p.run("kill") })
	return p
}

// run runs pm2 with args in dir, with extra variables; it returns the
// output and fails the test when pm2 fails, unless args is kill.
func (p *pm2) runIn(dir string, extra []string, args ...string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.bin, args...)
	cmd.Dir, cmd.Env = dir, append(append([]string(nil), p.environ...), extra...)
	out, err := cmd.CombinedOutput()
	if err != nil && args[0] != "kill" {
		p.t.Fatalf("pm2 %q: %v\n%s", args, err, out)
	}
	return string(out)
}

func (p *pm2) run(args ...string) string {
	p.t.Helper()
	return p.runIn("", nil, args...)
}

// cleanApp stops on SIGINT only, writing "clean shutdown" to $MARKER
// first: PM2's apps expect SIGINT.
const cleanApp = `const fs = require('fs');
process.on('SIGINT', () => { fs.writeFileSync(process.env.MARKER, 'clean shutdown\n'); process.exit(0); });
setInterval(() => {}, 1000);
`

// envApp prints its arguments, directory and environment as one JSON line.
const envApp = `console.log(JSON.stringify({argv: process.argv.slice(2), cwd: process.cwd(), env: process.env}));
setInterval(() => {}, 1000);
`

// Apps saved by the real PM2 run under opm after opm import pm2 --start
// as they ran under PM2: the same arguments, directory and environment
// (without PM2's variables), SIGINT to stop them, and an app PM2 had
// stopped registered stopped. Importing again leaves them as they are.
func TestImportPM2(t *testing.T) {
	e := newEnv(t)
	p := newPM2(t, e)
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("clean.js", cleanApp)
	write("envapp.js", envApp)
	marker := filepath.Join(dir, "marker")
	p.runIn(dir, []string{"MARKER=" + marker}, "start", "clean.js", "--name", "clean")
	p.runIn(dir, []string{"FOO=bar", "GREETING=hello world"}, "start", "envapp.js", "--name", "envapp", "--", "one", "two words")
	p.runIn(dir, nil, "start", "/bin/sleep", "--name", "idle", "--", "1000")
	p.run("stop", "idle")
	p.run("save")
	p.run("kill")
	testkit.WaitFor(t, "PM2 and its apps to be gone", 20*time.Second, func() bool { return len(e.marked()) == 0 })

	dump := filepath.Join(p.home, "dump.pm2")
	r := e.ok("import", "pm2", "--from", dump, "--start")
	if !strings.Contains(r.stderr, "stop with SIGINT, as under PM2") {
		t.Errorf("no warning about SIGINT:\n%v", r)
	}
	if !strings.Contains(r.stdout, "run 'opm save'") {
		t.Errorf("does not tell to run opm save:\n%v", r)
	}
	if strings.Count(r.stderr, "warning:") != 1 {
		t.Errorf("want one warning (SIGINT), PM2's bookkeeping silent:\n%v", r)
	}
	e.waitStatus("clean", api.StatusOnline, 20*time.Second)
	e.waitStatus("envapp", api.StatusOnline, 20*time.Second)
	if st := e.app("idle").Status; st != api.StatusStopped {
		t.Errorf("idle, stopped under PM2, is %s under opm", st)
	}

	// envapp's arguments, directory and environment.
	logf := filepath.Join(e.home, api.LogsDir, "envapp-out.log")
	var got struct {
		Argv []string          `json:"argv"`
		Cwd  string            `json:"cwd"`
		Env  map[string]string `json:"env"`
	}
	testkit.WaitFor(t, "envapp to print its environment", 20*time.Second, func() bool {
		data, err := os.ReadFile(logf)
		line, _, _ := strings.Cut(string(data), "\n")
		return err == nil && json.Unmarshal([]byte(line), &got) == nil
	})
	if !slices.Equal(got.Argv, []string{"one", "two words"}) {
		t.Errorf("envapp's arguments %q, want [one, two words]", got.Argv)
	}
	if got.Cwd != dir {
		t.Errorf("envapp runs in %s, want %s", got.Cwd, dir)
	}
	if got.Env["FOO"] != "bar" || got.Env["GREETING"] != "hello world" || got.Env["PATH"] == "" {
		t.Errorf("envapp's environment lacks FOO, GREETING or PATH: %v", got.Env)
	}
	for k := range got.Env {
		if strings.HasPrefix(k, "PM2_") || k == "pm_id" || k == "unique_id" || k == "envapp" || k == "_" {
			t.Errorf("envapp's environment holds PM2's %s", k)
		}
	}

	// Importing again changes nothing.
	pid := e.app("clean").PID
	r = e.ok("import", "pm2", "--from", dump)
	if !strings.Contains(r.stderr, "clean: already in opm, left as it is") || e.app("clean").PID != pid {
		t.Errorf("a second import touched clean:\n%v", r)
	}

	e.ok("stop", "clean")
	testkit.WaitFor(t, "clean to write its marker on SIGINT", 10*time.Second, func() bool {
		data, err := os.ReadFile(marker)
		return err == nil && string(data) == "clean shutdown\n"
	})
}

// A dump that is missing or not JSON is bad usage (exit 2), and nothing
// is registered.
func TestImportPM2BadDump(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "dump.pm2")
	if err := os.WriteFile(notJSON, []byte("[{\"name\": \"web\",\n oops"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, msg string }{
		{filepath.Join(dir, "missing.pm2"), "check the path"},
		{notJSON, notJSON + ":2: "},
	} {
		r := e.run("import", "pm2", "--from", c.path, "--start")
		if r.code != 2 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("want exit 2 and %q:\n%v", c.msg, r)
		}
	}
	r := e.runWith([]string{"PM2_HOME=" + dir + "/nothing"}, "import", "pm2")
	if r.code != 2 || !strings.Contains(r.stderr, filepath.Join(dir, "nothing", "dump.pm2")) {
		t.Errorf("want exit 2 naming $PM2_HOME/dump.pm2:\n%v", r)
	}
	if apps := e.list(); len(apps) != 0 {
		t.Errorf("a bad dump registered %d apps", len(apps))
	}
}

// An app whose name opm knows is left as it is, an app the daemon refuses
// is reported and makes the import exit 1, and the others are imported
// all the same: registered stopped without --start.
func TestImportPM2Partial(t *testing.T) {
	e := newEnv(t)
	web := e.startApp("web", "block")
	dir := t.TempDir()
	dump := filepath.Join(dir, "dump.pm2")
	content := `[
  {"name": "web", "pm_exec_path": "/bin/sleep", "args": ["1000"], "pm_cwd": "/", "exec_interpreter": "none", "status": "online"},
  {"name": "idle", "pm_exec_path": "/bin/sleep", "args": ["1000"], "pm_cwd": "/", "exec_interpreter": "none", "status": "online"},
  {"name": "broken", "pm_exec_path": "` + dir + `/gone.js", "pm_cwd": "/", "exec_interpreter": "node", "status": "online"}
]`
	if err := os.WriteFile(dump, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.run("import", "pm2", "--from", dump)
	if r.code != 1 || !strings.Contains(r.stderr, "web: already in opm, left as it is") || !strings.Contains(r.stderr, "broken: not imported") {
		t.Fatalf("want exit 1, web left and broken reported:\n%v", r)
	}
	if !strings.Contains(r.stdout, "imported 1 of PM2's 3 apps") {
		t.Errorf("want idle imported:\n%v", r)
	}
	if got := e.app("web"); got.PID != web.PID || got.Spec.Command != web.Spec.Command {
		t.Errorf("web changed: %+v", got)
	}
	if st := e.app("idle").Status; st != api.StatusStopped {
		t.Errorf("idle is %s, want stopped (no --start)", st)
	}
	if n := len(e.apps()); n != 2 {
		t.Errorf("%d apps, want web and idle", n)
	}
}
