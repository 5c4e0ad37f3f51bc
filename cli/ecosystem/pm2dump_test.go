package ecosystem

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"opm/daemon/api"
)

// testdata/dump.pm2 is what PM2 6 wrote for `pm2 save` with three apps
// (web: pm2 start clean.js; api: an ecosystem file with most settings;
// worker: /bin/sleep, then pm2 stop), machine paths replaced. Each entry
// becomes the app PM2 ran: PM2's bookkeeping and environment variables
// dropped, its default log paths not kept, the user's settings read as
// ecosystem keys.
func TestLoadPM2Dump(t *testing.T) {
	f, err := LoadPM2Dump("testdata/dump.pm2", Options{Environ: callerEnv})
	if err != nil {
		t.Fatal(err)
	}
	if f.Format != FormatPM2Dump {
		t.Errorf("format %q", f.Format)
	}
	five := 5
	want := []App{
		{Name: "web", Request: api.StartRequest{
			Command: "/srv/app/clean.js", Name: "web", Cwd: "/srv/app", Dir: "/srv/app",
			Interpreter: "node",
			Env:         []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/deploy", "LANG=C.UTF-8", "MARKER=/srv/app/stopped.marker"},
			Settings:    api.Settings{KillSignal: "SIGINT"},
		}},
		{Name: "api", Request: api.StartRequest{
			Command: "/srv/app/envapp.js", Name: "api", Cwd: "/srv/app", Dir: "/srv/app",
			Args:            []string{"--port", "8080"},
			Interpreter:     "node",
			InterpreterArgs: []string{"--max-old-space-size=128"},
			Env:             []string{"PORT=8080", "NODE_ENV=production", "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/deploy", "LANG=C.UTF-8"},
			MaxRestarts:     &five,
			KillTimeoutMs:   3000,
			Settings: api.Settings{
				KillSignal: "SIGINT", MinUptimeMs: 5000, RestartDelayMs: 200, StopExitCodes: []int{0},
				LogSettings: api.LogSettings{LogDateFormat: "YYYY-MM-DD", OutFile: "/var/log/api.out.log"},
				CronRestart: "0 3 * * *", Watch: true, MaxMemoryRestart: 200 << 20,
			},
		}},
		{Name: "worker", Stopped: true, Request: api.StartRequest{
			Command: "/bin/sleep", Name: "worker", Cwd: "/srv/app", Dir: "/srv/app",
			Args:        []string{"1000"},
			Interpreter: "none",
			Env:         []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/deploy"},
			Settings:    api.Settings{KillSignal: "SIGINT"},
		}},
	}
	// The order of env follows the dump; compare it as a set.
	for i := range f.Apps {
		if i < len(want) {
			if !sameSet(f.Apps[i].Request.Env, want[i].Request.Env) {
				t.Errorf("app %s: env %q, want %q", f.Apps[i].Name, f.Apps[i].Request.Env, want[i].Request.Env)
			}
			f.Apps[i].Request.Env = want[i].Request.Env
			if f.Apps[i].Stopped != want[i].Stopped {
				t.Errorf("app %s: stopped %v, want %v", f.Apps[i].Name, f.Apps[i].Stopped, want[i].Stopped)
			}
			if f.Apps[i].Line == 0 {
				t.Errorf("app %s: no line", f.Apps[i].Name)
			}
		}
	}
	sameApps(t, f.Apps, want)
	// One warning, for SIGINT, and none for PM2's bookkeeping.
	if !hasWarning(f, `apps "web", "api", "worker" stop with SIGINT, as under PM2`) {
		t.Errorf("no SIGINT warning: %q", f.Warnings)
	}
	if len(f.Warnings) != 1 {
		t.Errorf("want 1 warning (SIGINT), got %d: %q", len(f.Warnings), f.Warnings)
	}
	for _, w := range f.Warnings {
		if !strings.HasPrefix(w, "testdata/dump.pm2") {
			t.Errorf("warning does not name the file: %q", w)
		}
	}
}

// sameSet reports whether a and b hold the same strings.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// A key a user set that opm does not know is one warning; the env PM2
// copies to the entry's top level, the app's instance variable and PM2's
// variables are not imported, and a set kill signal stays.
func TestPM2DumpKeys(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "dump.pm2", `[{
  "name": "q", "pm_exec_path": "/bin/true", "pm_cwd": "/", "exec_interpreter": "none",
  "env": {"A": "1", "PM2_HOME": "/h", "PM2_JSON_PROCESSING": "true", "q": {}, "_": "/usr/bin/pm2", "unique_id": "x", "INST": 0},
  "A": "1", "INST": 0, "instance_var": "INST", "kill_signal": "SIGTERM",
  "uid": 1000, "status": "errored", "pm_id": 3, "namespace": "jobs", "autostart": false
}]`)
	f, err := LoadPM2Dump(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := f.Apps[0]
	if got := a.Request.Env; len(got) != 1 || got[0] != "A=1" {
		t.Errorf("env %q, want [A=1]", got)
	}
	if a.Request.KillSignal != "SIGTERM" || !a.Stopped {
		t.Errorf("kill signal %q, stopped %v; want SIGTERM, true (autostart false)", a.Request.KillSignal, a.Stopped)
	}
	if len(f.Warnings) != 2 || !hasWarning(f, `"uid" (app "q") is a PM2 setting opm does not know: not imported`) || !hasWarning(f, `"namespace"`) {
		t.Errorf("want warnings for uid and namespace only, got %q", f.Warnings)
	}
}

// A dump that cannot be used is an *Error naming the file and, where it
// can, the line; no app is returned.
func TestPM2DumpErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, content string
		line          int
		msg           string
	}{
		{"notjson", "{\n  oops", 2, "JSON"},
		{"object", `{"apps": []}`, 1, "want PM2's list of processes"},
		{"empty", `[]`, 1, "PM2 saved no process"},
		{"noscript", "[\n {\"name\": \"a\", \"pm_exec_path\": \"/bin/true\"},\n {\"name\": \"b\"}\n]", 3, "pm_exec_path: missing"},
		{"entry", "[\n 1\n]", 2, "want one of PM2's processes"},
		{"spaces", "[\n {\"name\": \"a\",\n  \"pm_exec_path\": \"/srv/my app/server.js\"}\n]", 3, "holds spaces or shell characters"},
		{"badvalue", "[\n {\"name\": \"a\", \"pm_exec_path\": \"/bin/true\",\n  \"max_restarts\": \"many\"}\n]", 3, "max_restarts: want a whole number"},
	} {
		path := write(t, dir, c.name, c.content)
		f, err := LoadPM2Dump(path, Options{})
		var e *Error
		if !errors.As(err, &e) || f != nil {
			t.Errorf("%s: got %v, %v; want an *Error and no file", c.name, f, err)
			continue
		}
		if e.File != path || e.Line != c.line || !strings.Contains(e.Error(), c.msg) {
			t.Errorf("%s: %q (line %d), want line %d and %q", c.name, e.Error(), e.Line, c.line, c.msg)
		}
	}
	missing := filepath.Join(dir, "nope", "dump.pm2")
	_, err := LoadPM2Dump(missing, Options{})
	var e *Error
	if !errors.As(err, &e) || e.File != missing || !strings.Contains(e.Error(), "check the path") {
		t.Errorf("missing file: %v", err)
	}
}

// An app PM2 runs in N instances is N entries of one name: it is read
// once, its instances kept, and it runs when any instance ran.
func TestPM2DumpInstances(t *testing.T) {
	entry := func(id int, status string) string {
		return fmt.Sprintf(`{"name": "api", "pm_exec_path": "/bin/true", "pm_cwd": "/", "exec_interpreter": "none", "instances": 2, "pm_id": %d, "status": %q, "env": {}}`, id, status)
	}
	path := write(t, t.TempDir(), "dump.pm2", "["+entry(0, "stopped")+", "+entry(1, "online")+"]")
	f, err := LoadPM2Dump(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Apps) != 1 || f.Apps[0].Stopped || f.Apps[0].Request.Instances != 2 || f.Apps[0].Request.Pending != nil {
		t.Fatalf("apps %+v; want one app api, running, of 2 instances", f.Apps)
	}
}
