package ecosystem

import (
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
)

// instances, increment_var and instance_var are settings in every
// format: a number, a string holding one, "max" or 0 for one per CPU,
// -1 for one less.
func TestInstancesKeys(t *testing.T) {
	cpus := runtime.NumCPU()
	dir := t.TempDir()
	files := map[string]string{
		"eco.yaml": `apps:
  - {name: a, script: a.js, instances: 4, increment_var: PORT, instance_var: INST, env: {PORT: 3000}}
  - {name: b, script: b.js, instances: max}
  - {name: c, script: c.js, instances: "3"}
  - {name: d, script: d.js, instances: 0}
  - {name: e, script: e.js, instances: -1}
  - {name: f, script: f.js, instances: "-1"}
  - {name: g, script: g.js, instances: 1}
`,
		"eco.json": `{"apps": [
  {"name": "a", "script": "a.js", "instances": 4, "increment_var": "PORT", "instance_var": "INST", "env": {"PORT": 3000}},
  {"name": "b", "script": "b.js", "instances": "max"},
  {"name": "c", "script": "c.js", "instances": "3"},
  {"name": "d", "script": "d.js", "instances": 0},
  {"name": "e", "script": "e.js", "instances": -1},
  {"name": "f", "script": "f.js", "instances": "-1"},
  {"name": "g", "script": "g.js", "instances": 1.0}
]}`,
		"eco.toml": `[[apps]]
name = "a"
script = "a.js"
instances = 4
increment_var = "PORT"
instance_var = "INST"
env = {PORT = 3000}
[[apps]]
name = "b"
script = "b.js"
instances = "max"
[[apps]]
name = "c"
script = "c.js"
instances = "3"
[[apps]]
name = "d"
script = "d.js"
instances = 0
[[apps]]
name = "e"
script = "e.js"
instances = -1
[[apps]]
name = "f"
script = "f.js"
instances = "-1"
[[apps]]
name = "g"
script = "g.js"
instances = 1
`,
		"eco.config.js": `module.exports = {apps: [
  {name: 'a', script: 'a.js', instances: 4, increment_var: 'PORT', instance_var: 'INST', env: {PORT: 3000}},
  {name: 'b', script: 'b.js', instances: 'max'},
  {name: 'c', script: 'c.js', instances: process.env.N},
  {name: 'd', script: 'd.js', instances: 0},
  {name: 'e', script: 'e.js', instances: -1},
  {name: 'f', script: 'f.js', instances: '-1'},
  {name: 'g', script: 'g.js', instances: 1},
]};`,
	}
	want := map[string]api.Settings{
		"a": {Instances: 4, IncrementVar: "PORT", InstanceVar: "INST"},
		"b": {Instances: cpus},
		"c": {Instances: 3},
		"d": {Instances: cpus},
		"e": {Instances: max(cpus-1, 1)},
		"f": {Instances: max(cpus-1, 1)},
		"g": {Instances: 1},
	}
	for name, content := range files {
		t.Run(name, func(t *testing.T) {
			if filepath.Ext(name) == ".js" {
				needNode(t)
			}
			path := write(t, dir, name, content)
			f, err := Load(path, Options{Environ: []string{"N=3"}, NodeTimeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Apps) != len(want) {
				t.Fatalf("%d apps, want %d", len(f.Apps), len(want))
			}
			for _, a := range f.Apps {
				got := a.Request.Settings
				w := want[a.Name]
				w.KillSignal = got.KillSignal // PM2's SIGINT, or none for TOML
				if !reflect.DeepEqual(got, w) {
					t.Errorf("app %s: settings %+v, want %+v", a.Name, got, w)
				}
			}
			for _, w := range f.Warnings {
				if strings.Contains(w, "instance") || strings.Contains(w, "increment") {
					t.Errorf("warning: %s", w)
				}
			}
		})
	}
}

// A wrong instances, increment_var, instance_var or exec_mode is an
// *Error naming the file, line, app and key.
func TestInstancesWrong(t *testing.T) {
	// each want is the message after "<file>:"
	tests := []appError{
		{"word", "instances: many", `3: app "web": instances: want a number of processes, or "max" for one per CPU, got "many"`},
		{"fraction", "instances: 2.5", `3: app "web": instances: want a number of processes, or "max" for one per CPU, got 2.5`},
		{"list", "instances: [4]", `3: app "web": instances: want a number of processes, or "max" for one per CPU, got a list`},
		{"boolean", "instances: true", `3: app "web": instances: want a number of processes, or "max" for one per CPU, got true`},
		{"relative", "instances: '+2'", `3: app "web": instances: want a number of processes, or "max" for one per CPU, got "+2"`},
		{"negative", "instances: -2", fmt.Sprintf(`3: app "web": instances: want 1 to %d processes, "max" (or 0) for one per CPU, or -1 for one less than the CPUs; got -2`, api.MaxInstances)},
		{"too many", "instances: 100000", fmt.Sprintf(`3: app "web": instances: want 1 to %d processes, "max" (or 0) for one per CPU, or -1 for one less than the CPUs; got 100000`, api.MaxInstances)},
		{"increment_var type", "increment_var: 3000", `3: app "web": increment_var: want the name of an environment variable (a string such as "PORT"), got 3000`},
		{"increment_var name", "increment_var: 'PORT=3000'", `3: app "web": increment_var: "PORT=3000" is not the name of an environment variable (no '=', no NUL byte, no spaces around it)`},
		{"instance_var empty", "instance_var: ''", `3: app "web": instance_var: "" is not the name of an environment variable (no '=', no NUL byte, no spaces around it)`},
		{"exec_mode type", "exec_mode: [cluster]", `3: app "web": exec_mode: want "fork" or "cluster", got a list`},
		{"exec_mode value", "exec_mode: turbo", `3: app "web": exec_mode: want "fork" or "cluster", got "turbo"`},
	}
	checkAppErrors(t, tests)
}

// The daemon lists an app of 4 instances as 4 rows: export writes it
// once, with instances: 4, from its lowest instance, and reads back to
// it; the instance id variables the daemon sets are not the app's.
func TestExportInstances(t *testing.T) {
	settings := api.Settings{Instances: 4, IncrementVar: "PORT", LogSettings: api.LogSettings{MergeLogs: true}}
	row := func(id, instance int) api.App {
		env := []string{"PORT=3000", "A=1"}
		if instance > 0 {
			// Whatever the daemon keeps of an instance's own
			// environment is not taken.
			env = []string{fmt.Sprintf("PORT=%d", 3000+instance), "A=1", fmt.Sprintf("NODE_APP_INSTANCE=%d", instance)}
		}
		return api.App{ID: id, Name: "web", Instance: instance, Instances: 4, Spec: api.Spec{
			Name: "web", Instance: instance, Command: "sleep 1000", Cwd: "/srv", Restart: api.RestartAlways, MaxRestarts: 15,
			Env: append(env, "OPM_INSTANCE=0"), Settings: settings,
		}}
	}
	other := api.App{ID: 9, Name: "worker", Instances: 1, Spec: api.Spec{Name: "worker", Command: "sleep 5", Cwd: "/srv", Restart: api.RestartAlways, MaxRestarts: 15}}
	apps := []api.App{row(4, 2), row(2, 1), other, row(1, 0), row(5, 3)}
	out, err := Export(apps, FormatYAML)
	if err != nil {
		t.Fatal(err)
	}
	want := `apps:
  - name: web
    script: sleep 1000
    cwd: /srv
    instances: 4
    increment_var: PORT
    restart: always
    max_restarts: 15
    kill_signal: SIGTERM
    merge_logs: true
    env:
      A: "1"
      PORT: "3000"
  - name: worker
    script: sleep 5
    cwd: /srv
    restart: always
    max_restarts: 15
    kill_signal: SIGTERM
    env: {}
`
	if string(out) != want {
		t.Fatalf("export:\n%s\nwant:\n%s", out, want)
	}
	for _, format := range []string{FormatYAML, FormatJSON, FormatTOML} {
		out, err := Export(apps, format)
		if err != nil {
			t.Fatal(err)
		}
		path := write(t, t.TempDir(), "exported."+format, string(out))
		back, err := Load(path, Options{Environ: []string{}})
		if err != nil {
			t.Fatalf("%s: %v\n%s", format, err, out)
		}
		if len(back.Apps) != 2 || back.Apps[0].Name != "web" || back.Apps[1].Name != "worker" {
			t.Fatalf("%s: read back %+v", format, back.Apps)
		}
		s := back.Apps[0].Request.Settings
		if s.Instances != 4 || s.IncrementVar != "PORT" || !s.MergeLogs || back.Apps[1].Request.Instances != 0 {
			t.Errorf("%s: read back web %+v, worker instances %d", format, s, back.Apps[1].Request.Instances)
		}
	}
	// An app whose definition does not carry its count (a row of an
	// older daemon) takes the row's.
	one := row(1, 0)
	one.Spec.Instances = 0
	out, err = Export([]api.App{one}, FormatJSON)
	if err != nil || !strings.Contains(string(out), `"instances": 4`) {
		t.Errorf("export of a row of 4 instances: %v\n%s", err, out)
	}
}

// A PM2 dump of 2 processes of one clustered app (pm2 start -i 2, a port
// each through increment_var) is one app of 2 instances, defined by its
// instance 0 whatever the order of the entries; exec_mode cluster is
// kept, with a warning. A process of another script under the same name
// is not taken as an instance: a warning, and the first is imported.
func TestPM2DumpCluster(t *testing.T) {
	entry := func(id, instance int, script, status string) string {
		return fmt.Sprintf(`{"name": "api", "pm_exec_path": %q, "pm_cwd": "/srv", "exec_interpreter": "node",
  "exec_mode": "cluster_mode", "instances": 2, "increment_var": "PORT", "instance_var": "NODE_APP_INSTANCE",
  "pm_id": %d, "status": %q, "NODE_APP_INSTANCE": %d,
  "env": {"PORT": "%d", "NODE_APP_INSTANCE": %d, "HOME": "/home/deploy"}}`, script, id, status, instance, 3000+instance, instance)
	}
	path := write(t, t.TempDir(), "dump.pm2", "[\n"+entry(4, 1, "/srv/api.js", "online")+",\n"+entry(3, 0, "/srv/api.js", "stopped")+"\n]")
	f, err := LoadPM2Dump(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Apps) != 1 {
		t.Fatalf("%d apps, want 1: %+v", len(f.Apps), f.Apps)
	}
	a := f.Apps[0]
	r := a.Request
	if a.Name != "api" || a.Stopped || r.Instances != 2 || r.IncrementVar != "PORT" || r.InstanceVar != "" || r.Command != "/srv/api.js" {
		t.Errorf("app %s stopped %v: instances %d, increment_var %q, instance_var %q, script %q; want api running, 2, PORT, none, /srv/api.js",
			a.Name, a.Stopped, r.Instances, r.IncrementVar, r.InstanceVar, r.Command)
	}
	if !sameSet(r.Env, []string{"PORT=3000", "HOME=/home/deploy"}) {
		t.Errorf("env %q, want instance 0's: PORT=3000, HOME", r.Env)
	}
	if string(r.Pending["exec_mode"]) != `"cluster_mode"` {
		t.Errorf("pending %s, want exec_mode kept", r.Pending)
	}
	if !hasWarning(f, `exec_mode cluster (app "api") is kept but not acted on: `+ExecModeNote) {
		t.Errorf("no exec_mode warning: %q", f.Warnings)
	}

	// More processes than the recorded instances (scaled): as many
	// instances as PM2 ran.
	three := "[" + entry(0, 0, "/srv/api.js", "online") + "," + entry(1, 1, "/srv/api.js", "online") + "," + entry(2, 2, "/srv/api.js", "online") + "]"
	f, err = LoadPM2Dump(write(t, t.TempDir(), "dump.pm2", three), Options{})
	if err != nil || len(f.Apps) != 1 || f.Apps[0].Request.Instances != 3 {
		t.Fatalf("3 processes: %v, %+v; want one app of 3 instances", err, f)
	}

	// Another script under the same name.
	mixed := "[\n" + entry(0, 0, "/srv/api.js", "online") + ",\n" + entry(1, 0, "/srv/other.js", "online") + "\n]"
	path = write(t, t.TempDir(), "dump.pm2", mixed)
	f, err = LoadPM2Dump(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Apps) != 1 || f.Apps[0].Request.Command != "/srv/api.js" || f.Apps[0].Request.Instances != 2 {
		t.Errorf("apps %+v; want api.js only, its recorded 2 instances", f.Apps)
	}
	if !hasWarning(f, path+`:6: PM2 ran processes named "api" with different scripts`) {
		t.Errorf("no warning for the other script: %q", f.Warnings)
	}
}
