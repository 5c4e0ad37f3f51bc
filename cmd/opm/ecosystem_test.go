package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// ecoApps is a two-app ecosystem file in each format, its apps this test
// binary in mode block: web with env, env_production and PM2's settings,
// worker with increment_var and exec_mode cluster, a setting opm keeps but
// does not act on.
func ecoApps(exe string) map[string]string {
	return map[string]string{
		"apps.yaml": fmt.Sprintf(`apps:
  - name: web
    script: %[1]s
    args: [--port, "8080"]
    restart_delay: 50
    max_restarts: 4
    env:
      %[2]s: block
      A: "1"
    env_production:
      A: prod
  - name: worker
    script: %[1]s
    increment_var: PORT
    exec_mode: cluster
    env:
      %[2]s: block
      PORT: "4000"
`, exe, testkit.ChildEnv),
		"apps.json": fmt.Sprintf(`{"apps": [
  {"name": "web", "script": %[1]q, "args": "--port 8080", "restart_delay": 50, "max_restarts": 4,
   "env": {%[2]q: "block", "A": "1"}, "env_production": {"A": "prod"}},
  {"name": "worker", "script": %[1]q, "increment_var": "PORT", "exec_mode": "cluster", "env": {%[2]q: "block", "PORT": "4000"}}
]}
`, exe, testkit.ChildEnv),
		"apps.config.js": fmt.Sprintf(`module.exports = {apps: [
  {name: "web", script: %[1]q, args: ["--port", "8080"], restart_delay: 50, max_restarts: 4,
   env: {%[2]s: "block", A: "1"}, env_production: {A: "prod"}},
  {name: "worker", script: %[1]q, increment_var: "PORT", exec_mode: "cluster", env: {%[2]s: "block", PORT: "4000"}},
]};
`, exe, testkit.ChildEnv),
		"apps.toml": fmt.Sprintf(`[[apps]]
name = "web"
script = %[1]q
args = ["--port", "8080"]
restart_delay = 50
max_restarts = 4
kill_signal = "SIGINT"
env = { %[2]s = "block", A = "1" }
env_production = { A = "prod" }

[[apps]]
name = "worker"
script = %[1]q
kill_signal = "SIGINT"
increment_var = "PORT"
exec_mode = "cluster"
env = { %[2]s = "block", PORT = "4000" }
`, exe, testkit.ChildEnv),
	}
}

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// envOf is the value of key in an app's saved environment.
func envOf(a api.App, key string) (string, bool) {
	for _, kv := range a.Spec.Env {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v, true
		}
	}
	return "", false
}

// Every format starts the same two apps, with the file's arguments,
// directory, environment and settings; --env production applies
// env_production; stop and remove act on the file's apps.
func TestEcosystemFormatsStartTheSameApps(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	files := ecoApps(os.Args[0])
	names := []string{"apps.yaml", "apps.json", "apps.toml", "apps.config.js"}
	if _, err := exec.LookPath("node"); err != nil {
		t.Log("node is not installed: the .config.js format is not checked here")
		names = names[:3]
	}
	var first []api.Spec
	for _, name := range names {
		path := writeFile(t, dir, name, files[name])
		r := e.runIn(t.TempDir(), nil, "start", path, "--env", "production")
		if r.code != 0 {
			t.Fatalf("%v", r)
		}
		if !strings.Contains(r.stderr, "exec_mode cluster (app \"worker\") is kept but not acted on") {
			t.Errorf("%s: no warning for the kept exec_mode key:\n%s", name, r.stderr)
		}
		web, worker := e.waitStatus("web", api.StatusOnline, 10*time.Second), e.waitStatus("worker", api.StatusOnline, 10*time.Second)
		if !slices.Equal(web.Spec.Argv[len(web.Spec.Argv)-2:], []string{"--port", "8080"}) {
			t.Errorf("%s: web's argv = %q, want it to end in --port 8080", name, web.Spec.Argv)
		}
		if web.Spec.Cwd != dir {
			t.Errorf("%s: web's cwd = %q, want the file's directory %q", name, web.Spec.Cwd, dir)
		}
		if v, _ := envOf(web, "A"); v != "prod" {
			t.Errorf("%s: web's A = %q, want env_production's prod", name, v)
		}
		if web.Spec.RestartDelayMs != 50 || web.Spec.MaxRestarts != 4 || web.Spec.KillSignal != "SIGINT" {
			t.Errorf("%s: web's settings = delay %d, max restarts %d, kill signal %q; want 50, 4, SIGINT", name, web.Spec.RestartDelayMs, web.Spec.MaxRestarts, web.Spec.KillSignal)
		}
		if string(worker.Spec.Pending["exec_mode"]) != `"cluster"` || worker.Spec.IncrementVar != "PORT" {
			t.Errorf("%s: worker's kept settings = %s and increment_var %q, want exec_mode: \"cluster\" kept and increment_var PORT", name, worker.Spec.Pending, worker.Spec.IncrementVar)
		}
		specs := []api.Spec{web.Spec, worker.Spec}
		for i := range specs {
			specs[i].Env = nil // the caller's environment is each run's own
		}
		if first == nil {
			first = specs
		} else if fmt.Sprint(specs) != fmt.Sprint(first) {
			t.Errorf("%s defines other apps than %s:\n%+v\nwant\n%+v", name, names[0], specs, first)
		}
		e.ok("stop", path, "--only", "worker")
		if got := e.app("worker"); got.Status != api.StatusStopped || e.app("web").Status != api.StatusOnline {
			t.Fatalf("%s: stop --only worker left worker %s and web %s", name, got.Status, e.app("web").Status)
		}
		e.ok("remove", path)
		if apps := e.apps(); len(apps) != 0 {
			t.Fatalf("%s: remove of the file left %d apps", name, len(apps))
		}
	}
}

// start of a file whose apps exist changes what changed and starts what
// is stopped; a running app whose definition is the same keeps its
// process. The saved environment is kept under the file's variables;
// restart --update-env gives the apps the caller's.
func TestEcosystemStartUpdatesExistingApps(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	path := writeFile(t, dir, "apps.yaml", ecoApps(os.Args[0])["apps.yaml"])

	// The shell's A is one the file overrides: the second start must
	// see the same definition all the same.
	r := e.runWith([]string{"FROM_SHELL=1", "A=shell"}, "start", path, "--only", "web")
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	if apps := e.apps(); len(apps) != 1 || apps[0].Name != "web" {
		t.Fatalf("start --only web started %d apps: %+v", len(apps), apps)
	}
	web := e.waitStatus("web", api.StatusOnline, 10*time.Second)

	// The same file again: web is the same and runs, so it keeps its
	// process; worker is new and starts.
	e.ok("start", path)
	if got := e.app("web"); got.PID != web.PID || got.Restarts != web.Restarts {
		t.Errorf("start of an unchanged file restarted web: pid %d→%d", web.PID, got.PID)
	}
	e.waitStatus("worker", api.StatusOnline, 10*time.Second)

	// A changed variable in the file changes and restarts web; its saved
	// FROM_SHELL stays although this shell has another one.
	writeFile(t, dir, "apps.yaml", strings.Replace(ecoApps(os.Args[0])["apps.yaml"], `A: "1"`, `A: "2"`, 1))
	e.runWith([]string{"FROM_SHELL=2"}, "start", path)
	got := e.waitApp("web", "restarted", 10*time.Second, func(a api.App) bool { return a.PID != web.PID && a.Status == api.StatusOnline })
	if v, _ := envOf(got, "A"); v != "2" {
		t.Errorf("web's A = %q after the file changed it to 2", v)
	}
	if v, _ := envOf(got, "FROM_SHELL"); v != "1" {
		t.Errorf("web's FROM_SHELL = %q, want the saved 1 (start keeps the saved environment)", v)
	}

	// restart --update-env: the caller's environment, the file's over it.
	r = e.runWith([]string{"FROM_SHELL=3"}, "restart", path, "--update-env")
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	for _, name := range []string{"web", "worker"} {
		a := e.waitStatus(name, api.StatusOnline, 10*time.Second)
		if v, _ := envOf(a, "FROM_SHELL"); v != "3" {
			t.Errorf("%s's FROM_SHELL = %q after restart --update-env with 3", name, v)
		}
	}
	if v, _ := envOf(e.app("web"), "A"); v != "2" {
		t.Errorf("web's A = %q after restart --update-env, want the file's 2", v)
	}
}

// An app of a PM2 file that sets no kill_signal stops with SIGINT, as
// under PM2, and the start says so; opm's TOML keeps SIGTERM.
func TestEcosystemPM2AppsStopWithSIGINT(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	yaml := writeFile(t, dir, "pm2.yaml", fmt.Sprintf("apps:\n  - name: pm2app\n    script: %s\n    env: {%s: block}\n", os.Args[0], testkit.ChildEnv))
	toml := writeFile(t, dir, "opm.toml", fmt.Sprintf("[[apps]]\nname = \"opmapp\"\nscript = %q\nenv = { %s = \"block\" }\n", os.Args[0], testkit.ChildEnv))
	r := e.ok("start", yaml)
	if !strings.Contains(r.stderr, `app "pm2app" stops with SIGINT, as under PM2`) {
		t.Errorf("the start does not say the PM2 app stops with SIGINT:\n%s", r.stderr)
	}
	e.ok("start", toml)
	for name, want := range map[string]string{"pm2app": "interrupt", "opmapp": "terminated"} {
		e.waitLogPID(name, "block ", 1)
		e.ok("stop", name)
		log := filepath.Join(e.home, api.LogsDir, name+"-out.log")
		testkit.WaitFor(t, name+" to say how it ended", 10*time.Second, func() bool {
			b, _ := os.ReadFile(log)
			return strings.Contains(string(b), "block ended by ")
		})
		if b, _ := os.ReadFile(log); !strings.Contains(string(b), "block ended by "+want) {
			t.Errorf("%s's log:\n%s\nwant it ended by %s", name, b, want)
		}
	}
}

// export prints the apps as a file that start reads back to the same
// apps, in every format.
func TestExportStartRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.ok("start", os.Args[0], "--name", "web", "--env", testkit.ChildEnv+"=block", "--env", "SPACE=a b",
		"--kill-signal", "SIGINT", "--restart-delay", "3s", "--min-uptime", "2s", "--stop-exit-codes", "0,3",
		"--restart", "on-failure", "--max-restarts", "7", "--", "--flag", "two words")
	e.ok("start", "echo hi | cat; sleep 600", "--name", "shell", "--no-autorestart")
	want := map[string]api.Spec{}
	for _, a := range e.apps() {
		want[a.Name] = a.Spec
	}
	dir := t.TempDir()
	for _, format := range []string{"yaml", "json", "toml"} {
		r := e.ok("export", "--format", format)
		path := writeFile(t, dir, "exported."+format, r.stdout)
		e.ok("remove", "all")
		r = e.runIn(t.TempDir(), nil, "start", path)
		if r.code != 0 {
			t.Fatalf("start of the exported %s: %v\n%s", format, r, r.stdout)
		}
		for _, a := range e.apps() {
			if got, w := runsAs(a.Spec), runsAs(want[a.Name]); got != w {
				t.Errorf("%s round trip changed %s:\n got %s\nwant %s", format, a.Name, got, w)
			}
		}
		if n := len(e.apps()); n != 2 {
			t.Errorf("%s round trip: %d apps, want 2", format, n)
		}
	}
	if r := e.run("export", "--format", "xml"); r.code != 2 || !strings.Contains(r.stderr, "use yaml, json or toml") {
		t.Errorf("export --format xml: %v", r)
	}
}

// runsAs is what makes an app run as it does: its program, arguments,
// directory, environment and settings, the kill signal's default
// spelled out (an export names it; an interpreter of "none" is how an
// export says there is none).
func runsAs(s api.Spec) string {
	if s.KillSignal == "" {
		s.KillSignal = "SIGTERM"
	}
	return fmt.Sprintf("exec %q argv %q cwd %q env %q restart %s max %d kill %d %+v", s.Exec, s.Argv, s.Cwd, s.Env, s.Restart, s.MaxRestarts, s.KillTimeoutMs, s.Settings)
}

// A file that cannot be used starts nothing and exits 2 with the file,
// the line where one is known, and what is wrong.
func TestEcosystemBadInput(t *testing.T) {
	e := newEnv(t)
	e.ok("daemon", "start")
	dir := t.TempDir()
	exe := os.Args[0]
	cases := []struct {
		name, file, content, want string
	}{
		{"missing", "none.yaml", "", "none.yaml: cannot read it"},
		{"unparseable", "bad.yaml", "apps:\n  - name: a\n    script: [x\n", "bad.yaml:"},
		{"wrong type", "type.json", fmt.Sprintf(`{"apps": [{"name": "a", "script": %q}, {"name": "b", "script": %q, "max_restarts": "many"}]}`, exe, exe), `type.json:1: app "b": max_restarts`},
		{"same name twice", "twice.toml", fmt.Sprintf("[[apps]]\nname = \"a\"\nscript = %q\n[[apps]]\nname = \"a\"\nscript = %q\n", exe, exe), "twice.toml:4"},
		{"unknown --only", "only.yaml", fmt.Sprintf("apps:\n  - name: a\n    script: %s\n", exe), `"nope"`},
	}
	if _, err := exec.LookPath("node"); err == nil {
		cases = append(cases,
			struct{ name, file, content, want string }{"throws", "throws.config.js", "throw new Error('no config here')\n", "no config here"},
			struct{ name, file, content, want string }{"hangs", "hangs.config.js", "while (true) {}\n", "did not finish"})
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.file)
		if c.content != "" {
			writeFile(t, dir, c.file, c.content)
		}
		args := []string{"start", path}
		if c.name == "unknown --only" {
			args = append(args, "--only", "nope")
		}
		r := e.run(args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: want exit 2 and %q in the error, got %v", c.name, c.want, r)
		}
		if apps := e.apps(); len(apps) != 0 {
			t.Fatalf("%s: %d apps started", c.name, len(apps))
		}
	}
	if r := e.run("stop", filepath.Join(dir, "gone.yaml")); r.code != 2 || !strings.Contains(r.stderr, "no file") {
		t.Errorf("stop of a file that is not there: %v\nwant exit 2 naming the file", r)
	}
	if r := e.run("start", writeFile(t, dir, "ok.yaml", fmt.Sprintf("apps:\n  - name: a\n    script: %s\n", exe)), "--kill-signal", "SIGINT"); r.code != 2 || !strings.Contains(r.stderr, "set it in the file") {
		t.Errorf("a setting flag with a file: %v", r)
	}
}
