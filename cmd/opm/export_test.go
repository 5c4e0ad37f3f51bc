package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	nomad "github.com/hashicorp/nomad/api"
	"go.yaml.in/yaml/v3"

	"opm/daemon/testkit"
)

// nastyValue must reach every export as it is: quotes, a backslash,
// what systemd reads as a specifier or a variable, what compose reads as
// a variable.
const nastyValue = `say "hi" it's 100%i $HOME ${X} \ end`

// startExportApps starts the apps the export tests export: web, of two
// instances with an increment_var, a cron restart and most settings; and
// job, which never restarts.
func startExportApps(e *env) {
	e.t.Helper()
	e.ok("start", os.Args[0], "--name", "web", "-i", "2", "--increment-var", "PORT", "--env", "PORT=4000",
		"--env", testkit.ChildEnv+"=block", "--env", "NASTY="+nastyValue, "--cron-restart", "*/5 * * * *",
		"--kill-timeout", "1500", "--kill-signal", "SIGINT", "--restart", "on-failure", "--max-restarts", "4",
		"--min-uptime", "2s", "--restart-delay", "500", "--", "two words", "$1 50%")
	e.ok("start", os.Args[0], "--name", "job", "--env", testkit.ChildEnv+"=block", "--restart", "never")
}

// TestExportSystemd exports real apps as systemd units, printed and
// written, and has systemd-analyze verify every unit and every instance
// of the template with its drop-in.
func TestExportSystemd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	startExportApps(e)
	dir := filepath.Join(t.TempDir(), "units")
	r := e.ok("export", "--format", "systemd", "--out", dir)
	want := []string{
		"opm-web@.service", "opm-web@0.service.d/opm-instance.conf", "opm-web@1.service.d/opm-instance.conf",
		"opm-web-restart.timer", "opm-web-restart.service", "opm-job.service",
	}
	for _, name := range want {
		if !strings.Contains(r.stdout, "wrote "+filepath.Join(dir, name)+"\n") {
			t.Errorf("export --out does not say it wrote %s:\n%s", name, r.stdout)
		}
	}
	// Printed: the same files, each after a line that names it.
	printed := e.ok("export", "--format", "systemd").stdout
	var names []string
	for i, part := range strings.Split(printed, "# ---- ")[1:] {
		name, text, _ := strings.Cut(part, " ----\n")
		if i < len(want)-1 {
			text = strings.TrimSuffix(text, "\n") // the blank line between files
		}
		names = append(names, name)
		if written := readText(t, filepath.Join(dir, name)); written != text {
			t.Errorf("printed %s differs from the written one:\n%s\n----\n%s", name, text, written)
		}
	}
	if !slices.Equal(names, want) {
		t.Errorf("printed files %q, want %q", names, want)
	}

	web := testkit.UnitSettings(readText(t, filepath.Join(dir, "opm-web@.service")))
	for k, v := range map[string]string{
		"ExecStart": os.Args[0] + ` "two words" "$$1 50%%"`, "Restart": "on-failure", "RestartSec": "500ms",
		"KillSignal": "SIGINT", "TimeoutStopSec": "1500ms", "StartLimitBurst": "5", "StartLimitIntervalSec": "12s",
		"Type": "exec",
	} {
		if len(web[k]) != 1 || web[k][0] != v {
			t.Errorf("opm-web@.service: %s=%q, want %q", k, web[k], v)
		}
	}
	for _, v := range []string{`"NASTY=say \"hi\" it's 100%%i $HOME ${X} \\ end"`, "OPM_TEST_CHILD=block", "PORT=4000", "OPM_INSTANCE=%i", "NODE_APP_INSTANCE=%i"} {
		if !slices.Contains(web["Environment"], v) {
			t.Errorf("opm-web@.service lacks Environment=%s: %q", v, web["Environment"])
		}
	}
	for _, kv := range web["Environment"] {
		if strings.HasPrefix(kv, "OPM_APP_TOKEN=") || strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			t.Errorf("opm-web@.service carries the daemon's %s", kv)
		}
	}
	// Each instance's drop-in: its port, and the log files the daemon
	// gave it.
	for _, a := range e.apps() {
		if a.Name != "web" {
			continue
		}
		d := testkit.UnitSettings(readText(t, filepath.Join(dir, "opm-web@"+string(rune('0'+a.Instance))+".service.d", "opm-instance.conf")))
		port := "PORT=400" + string(rune('0'+a.Instance))
		if !slices.Equal(d["Environment"], []string{port}) || !slices.Equal(d["StandardOutput"], []string{"append:" + a.Spec.OutLog}) || !slices.Equal(d["StandardError"], []string{"append:" + a.Spec.ErrLog}) {
			t.Errorf("drop-in of web:%d: %v; the daemon's logs: %s, %s", a.Instance, d, a.Spec.OutLog, a.Spec.ErrLog)
		}
	}
	timer := testkit.UnitSettings(readText(t, filepath.Join(dir, "opm-web-restart.timer")))
	if !slices.Equal(timer["OnCalendar"], []string{"*-*-* *:00,05,10,15,20,25,30,35,40,45,50,55:00"}) {
		t.Errorf("opm-web-restart.timer: %v", timer)
	}
	// opm's cron restarts a running app only: so does try-restart.
	if got := testkit.UnitSettings(readText(t, filepath.Join(dir, "opm-web-restart.service")))["ExecStart"]; !slices.Equal(got, []string{"systemctl try-restart opm-web@0.service opm-web@1.service"}) {
		t.Errorf("opm-web-restart.service: ExecStart=%q", got)
	}
	job := testkit.UnitSettings(readText(t, filepath.Join(dir, "opm-job.service")))
	if !slices.Equal(job["Restart"], []string{"no"}) || job["StartLimitBurst"] != nil {
		t.Errorf("opm-job.service: %v", job)
	}

	var paths []string
	for _, name := range want {
		if !strings.Contains(name, "/") {
			paths = append(paths, filepath.Join(dir, name))
		}
	}
	testkit.SystemdVerify(t, append(paths, filepath.Join(dir, "opm-web@0.service"), filepath.Join(dir, "opm-web@1.service"))...)

	// A target exports its app alone.
	if out := e.ok("export", "job", "--format", "systemd").stdout; !strings.HasPrefix(out, "# ---- opm-job.service ----\n") || strings.Contains(out, "opm-web") {
		t.Errorf("export job --format systemd:\n%s", out)
	}
}

// TestExportNomadAndCompose exports real apps as a Nomad job, decoded
// strictly into the nomad api's types, and as a compose file, read back.
func TestExportNomadAndCompose(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	startExportApps(e)

	out := e.ok("export", "--format", "nomad", "--job", "box").stdout
	var doc struct{ Job *nomad.Job }
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("decode as a nomad job: %v\n%s", err, out)
	}
	job := doc.Job
	if job == nil || *job.ID != "opm-box" || len(job.TaskGroups) != 2 {
		t.Fatalf("job:\n%s", out)
	}
	g := job.TaskGroups[0]
	task := g.Tasks[0]
	if *g.Name != "web" || *g.Count != 2 || task.Driver != "raw_exec" || task.KillSignal != "SIGINT" || *task.KillTimeout != 1500*time.Millisecond ||
		*g.RestartPolicy.Attempts != 4 || *g.RestartPolicy.Mode != "fail" || *g.RestartPolicy.Delay != 500*time.Millisecond {
		t.Errorf("web's group:\n%s", out)
	}
	if task.Env["NASTY"] != nastyValue || task.Env["OPM_INSTANCE"] != "${NOMAD_ALLOC_INDEX}" || task.Env["OPM_APP_TOKEN"] != "" {
		t.Errorf("web's environment: %v", task.Env)
	}
	args, _ := task.Config["args"].([]any)
	if len(args) < 2 || args[len(args)-2] != "two words" || args[len(args)-1] != "$1 50%" {
		t.Errorf("web's arguments: %v", args)
	}
	if out := e.ok("export", "--format", "nomad", "--nomad-driver", "exec").stdout; !strings.Contains(out, `"Driver": "exec"`) {
		t.Errorf("--nomad-driver exec:\n%s", out)
	}

	out = e.ok("export", "--format", "compose", "--image", "debian:12").stdout
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Restart     string            `yaml:"restart"`
			StopSignal  string            `yaml:"stop_signal"`
			Deploy      struct {
				Replicas int `yaml:"replicas"`
			} `yaml:"deploy"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(out), &compose); err != nil {
		t.Fatalf("read the compose file back: %v\n%s", err, out)
	}
	web := compose.Services["web"]
	if web.Image != "debian:12" || web.Deploy.Replicas != 2 || web.Restart != "on-failure" || web.StopSignal != "SIGINT" ||
		strings.ReplaceAll(web.Environment["NASTY"], "$$", "$") != nastyValue || !slices.Equal(web.Command, []string{os.Args[0], "two words", "$$1 50%"}) {
		t.Errorf("web's service: %+v\n%s", web, out)
	}
	if compose.Services["job"].Restart != "no" {
		t.Errorf("job's service: %+v", compose.Services["job"])
	}
	if !bytes.Contains([]byte(out), []byte("# opm apps, exported by 'opm export --format compose'")) {
		t.Errorf("no header comment:\n%s", out)
	}

	out = e.ok("export", "--format", "compose", "--compose-mode", "opm").stdout
	if !strings.Contains(out, `command: ["opm", "run", "/etc/opm/ecosystem.yaml"]`) || !strings.Contains(out, "stop_grace_period: 15s") {
		t.Errorf("--compose-mode opm:\n%s", out)
	}

	for _, bad := range [][]string{
		{"export", "--format", "compose", "--compose-mode", "swarm"},
		{"export", "--format", "yaml", "--compose-mode", "opm"},
		{"export", "--format", "nomad", "--out", t.TempDir()},
		{"export", "--format", "yaml", "--image", "x"},
		{"export", "--format", "nomad", "--nomad-driver", "docker"},
		{"export", "--format", "hcl"},
	} {
		if r := e.run(bad...); r.code != 2 {
			t.Errorf("%q: %v", bad, r)
		}
	}
}

// TestExportKillSignal: opm keeps --kill-signal as typed ("int"), which
// systemd would ignore; every export writes its name.
func TestExportKillSignal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("start", os.Args[0], "--name", "sig", "--env", testkit.ChildEnv+"=block", "--kill-signal", "int")
	if got := e.app("sig").Spec.KillSignal; got != "int" {
		t.Logf("opm keeps the kill signal as %q", got)
	}
	dir := filepath.Join(t.TempDir(), "units")
	e.ok("export", "--format", "systemd", "--out", dir)
	unit := filepath.Join(dir, "opm-sig.service")
	set := testkit.UnitSettings(readText(t, unit))
	if !slices.Equal(set["KillSignal"], []string{"SIGINT"}) || !slices.Equal(set["TimeoutStopSec"], []string{"2s"}) {
		t.Errorf("opm-sig.service: KillSignal=%q TimeoutStopSec=%q, want SIGINT and the config's 2s", set["KillSignal"], set["TimeoutStopSec"])
	}
	testkit.SystemdVerify(t, unit)

	var doc struct{ Job *nomad.Job }
	if err := json.Unmarshal([]byte(e.ok("export", "--format", "nomad").stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Job.TaskGroups[0].Tasks[0].KillSignal; got != "SIGINT" {
		t.Errorf("Nomad KillSignal %q, want SIGINT", got)
	}
	var compose struct {
		Services map[string]struct {
			StopSignal string `yaml:"stop_signal"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(e.ok("export", "--format", "compose").stdout), &compose); err != nil {
		t.Fatal(err)
	}
	if got := compose.Services["sig"].StopSignal; got != "SIGINT" {
		t.Errorf("compose stop_signal %q, want SIGINT", got)
	}
}
