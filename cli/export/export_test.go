package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	nomad "github.com/hashicorp/nomad/api"
	"go.yaml.in/yaml/v3"

	"opm/daemon/api"
	"opm/daemon/logs"
)

const home = "/home/alice/.opm"

// row is one app-table row as the daemon lists it: instance i of spec,
// with the log paths the daemon gives it.
func row(spec api.Spec, i int) api.App {
	spec.Instance = i
	logs.Own(&spec, home)
	return api.App{Name: spec.Name, Instance: i, Instances: spec.Count(), Spec: spec}
}

// rows are the rows of every instance of spec.
func rows(spec api.Spec) []api.App {
	var out []api.App
	for i := range spec.Count() {
		out = append(out, row(spec, i))
	}
	return out
}

// nastyEnv are values each format must carry as they are.
var nastyEnv = []string{
	`QUOTES=say "hi" it's`, `BACKSLASH=a\b\`, `PCT=50%i %n`, `DOLLAR=$HOME ${X} $$`,
	"SPACES=  two  ", "NEWLINE=a\nb", "UNICODE=café \u202e", "EMPTY=", "SEMI=;",
}

// web is an app of 3 instances with most settings set; worker a plain
// one with restart never and its output discarded.
func testApps() []api.App {
	web := api.Spec{
		Name: "web", Command: "/bin/sh -c ...", Exec: "/bin/sh",
		Argv: []string{"/bin/sh", "-c", `echo "$PORT" 100%`, "--", "$HOME", "a b"},
		Cwd:  "/srv/web app",
		Env: append([]string{"PORT=3000", "PATH=/usr/bin:/bin", "OPM_APP_TOKEN=secret", "NOTIFY_SOCKET=/run/x", "OPM_INSTANCE=0", "NODE_APP_INSTANCE=0"},
			nastyEnv...),
		Restart: api.RestartOnFailure, MaxRestarts: 5, KillTimeoutMs: 1500,
		Settings: api.Settings{
			KillSignal: "SIGINT", RestartDelayMs: 2000, MinUptimeMs: 10000, StopExitCodes: []int{0, 3},
			CronRestart: "0 3 * * 1-5", WaitReady: true, ListenTimeoutMs: 5000, MaxMemoryRestart: 200 << 20,
			Watch: true, Instances: 3, IncrementVar: "PORT",
		},
	}
	worker := api.Spec{
		Name: "worker", Command: "sleep 1000", Exec: "/bin/sleep", Argv: []string{"sleep", "1000"},
		Cwd: "/", Env: []string{"A=1"}, Restart: api.RestartNever, MaxRestarts: 15, KillTimeoutMs: 5000,
		Settings: api.Settings{LogSettings: api.LogSettings{OutFile: api.DevNull, LogMaxFiles: 3, LogMaxSize: 5 << 20}},
	}
	odd := api.Spec{
		Name: "café@2", Command: "/bin/true", Exec: "/bin/true", Argv: []string{"/bin/true"},
		Cwd: "/tmp", Restart: api.RestartAlways, MaxRestarts: 15, KillTimeoutMs: 5000,
		Settings: api.Settings{CronRestart: "@every 90m", Instances: 2, LogSettings: api.LogSettings{MergeLogs: true}},
	}
	return append(append(rows(web), row(worker, 0)), rows(odd)...)
}

// settings returns a unit's settings, by key, in order.
func settings(text string) map[string][]string {
	out := map[string][]string{}
	for _, l := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			out[k] = append(out[k], v)
		}
	}
	return out
}

func files(t *testing.T, fs []File) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range fs {
		if _, dup := out[f.Name]; dup {
			t.Fatalf("two files named %s", f.Name)
		}
		out[f.Name] = string(f.Data)
	}
	return out
}

func TestSystemd(t *testing.T) {
	fs, err := Systemd(testApps(), Options{Home: home, User: "daemon", Group: "daemon", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	got := files(t, fs)
	var names []string
	for _, f := range fs {
		names = append(names, f.Name)
	}
	want := []string{
		"opm-web@.service",
		"opm-web@0.service.d/opm-instance.conf", "opm-web@1.service.d/opm-instance.conf", "opm-web@2.service.d/opm-instance.conf",
		"opm-web-restart.timer", "opm-web-restart.service",
		"opm-worker.service",
		`opm-caf\xc3\xa9\x402@.service`, `opm-caf\xc3\xa9\x402-restart.timer`, `opm-caf\xc3\xa9\x402-restart.service`,
	}
	if !slices.Equal(names, want) {
		t.Fatalf("files %q\nwant %q", names, want)
	}

	web := settings(got["opm-web@.service"])
	for k, v := range map[string]string{
		"Type": "notify", "NotifyAccess": "all", "User": "daemon", "Group": "daemon",
		"WorkingDirectory": "/srv/web app", "Restart": "on-failure", "RestartSec": "2s",
		"KillSignal": "SIGINT", "TimeoutStopSec": "1500ms", "SuccessExitStatus": "0 3", "RestartPreventExitStatus": "0 3",
		"StartLimitBurst": "6", "StartLimitIntervalSec": "70s", // 6 runs of 10s, 5 waits of 2s
		"ExecStart": `/bin/sh -c "echo \"$$PORT\" 100%%" -- $$HOME "a b"`,
	} {
		if len(web[k]) != 1 || web[k][0] != v {
			t.Errorf("opm-web@.service: %s=%q, want %q", k, web[k], v)
		}
	}
	env := strings.Join(web["Environment"], "\n")
	for _, bad := range []string{"OPM_APP_TOKEN", "NOTIFY_SOCKET", "OPM_INSTANCE=0", "NODE_APP_INSTANCE=0"} {
		if strings.Contains(env, bad) {
			t.Errorf("opm-web@.service sets %s:\n%s", bad, env)
		}
	}
	for _, want := range []string{"OPM_INSTANCE=%i", "NODE_APP_INSTANCE=%i", "PORT=3000", `"PCT=50%%i %%n"`, `"DOLLAR=$HOME ${X} $$"`, `"NEWLINE=a\nb"`} {
		if !slices.Contains(web["Environment"], want) {
			t.Errorf("opm-web@.service lacks Environment=%s:\n%s", want, env)
		}
	}
	for _, note := range []string{"max_memory_restart 200M is not mapped", "watch is not mapped", "listen_timeout is not mapped"} {
		if !strings.Contains(got["opm-web@.service"], note) {
			t.Errorf("opm-web@.service does not say %q", note)
		}
	}
	if !strings.Contains(got["opm-web@.service"], "systemctl enable --now opm-web@{0..2}.service") {
		t.Errorf("opm-web@.service does not say how to enable its instances:\n%s", got["opm-web@.service"])
	}
	for i := range 3 {
		d := settings(got[fmt.Sprintf("opm-web@%d.service.d/opm-instance.conf", i)])
		suffix := ""
		if i > 0 {
			suffix = fmt.Sprintf("-%d", i)
		}
		if d["Environment"][0] != fmt.Sprintf("PORT=%d", 3000+i) ||
			d["StandardOutput"][0] != "append:"+home+"/logs/web-out"+suffix+".log" ||
			d["StandardError"][0] != "append:"+home+"/logs/web-err"+suffix+".log" {
			t.Errorf("drop-in of instance %d: %v", i, d)
		}
	}
	timer := settings(got["opm-web-restart.timer"])
	if timer["OnCalendar"][0] != "Mon..Fri *-*-* 03:00:00" || timer["AccuracySec"][0] != "1s" || timer["WantedBy"][0] != "timers.target" {
		t.Errorf("opm-web-restart.timer: %v", timer)
	}
	if s := settings(got["opm-web-restart.service"]); s["ExecStart"][0] != "systemctl restart opm-web@0.service opm-web@1.service opm-web@2.service" {
		t.Errorf("opm-web-restart.service: %v", s)
	}

	worker := settings(got["opm-worker.service"])
	for k, v := range map[string]string{"Type": "exec", "Restart": "no", "StandardOutput": "null", "StandardError": "append:" + home + "/logs/worker-err.log", "ExecStart": "@/bin/sleep sleep 1000", "Environment": "A=1"} {
		if len(worker[k]) == 0 || worker[k][0] != v {
			t.Errorf("opm-worker.service: %s=%q, want %q", k, worker[k], v)
		}
	}
	if worker["StartLimitBurst"] != nil {
		t.Errorf("an app that never restarts has a start limit: %v", worker)
	}
	odd := settings(got[`opm-caf\xc3\xa9\x402@.service`])
	if odd["StandardOutput"][0] != "append:"+home+"/logs/café@2-out.log" {
		t.Errorf("merged logs of café@2: %v", odd["StandardOutput"])
	}
	oddTimer := settings(got[`opm-caf\xc3\xa9\x402-restart.timer`])
	if oddTimer["OnActiveSec"][0] != "90min" || oddTimer["OnUnitActiveSec"][0] != "90min" {
		t.Errorf("@every 90m: %v", oddTimer)
	}

	// systemd reads every unit, each instance of a template with its
	// drop-in.
	dir := t.TempDir()
	for _, f := range fs {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var paths []string
	for _, n := range names {
		if !strings.Contains(n, "/") {
			paths = append(paths, filepath.Join(dir, n))
		}
	}
	paths = append(paths, filepath.Join(dir, "opm-web@1.service"), filepath.Join(dir, `opm-caf\xc3\xa9\x402@0.service`))
	verify(t, paths...)
}

// verify runs `systemd-analyze verify` and fails on any complaint.
func verify(t *testing.T, paths ...string) {
	t.Helper()
	exe, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed ('make testdeps' installs it, from Debian's systemd package): the units are not checked by systemd")
	}
	cmd := exec.Command(exe, append([]string{"verify"}, paths...)...)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0", "SYSTEMD_PAGER=")
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestSystemdNameClash(t *testing.T) {
	a := api.Spec{Name: "web", Exec: "/bin/true", Argv: []string{"/bin/true"}, Restart: api.RestartAlways, Settings: api.Settings{CronRestart: "@daily"}}
	b := api.Spec{Name: "web-restart", Exec: "/bin/true", Argv: []string{"/bin/true"}, Restart: api.RestartAlways}
	_, err := Systemd([]api.App{row(a, 0), row(b, 0)}, Options{Home: home})
	if err == nil || !strings.Contains(err.Error(), "opm-web-restart.service") {
		t.Errorf("clashing units: %v", err)
	}
	c := api.Spec{Name: "bad", Exec: `/opt/a"b/prog`, Argv: []string{"prog"}, Restart: api.RestartAlways}
	if _, err := Systemd([]api.App{row(c, 0)}, Options{Home: home}); err == nil {
		t.Error("a program path systemd refuses was exported")
	}
}

// TestNomad decodes the job strictly into the nomad api's own types:
// every key written is one Nomad knows.
func TestNomad(t *testing.T) {
	out, err := Nomad(testApps(), Options{Home: home, Job: "prod box", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Job *nomad.Job }
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("decode as a nomad job: %v\n%s", err, out)
	}
	job := doc.Job
	if job == nil || *job.ID != "opm-prod-box" || *job.Type != "service" || len(job.TaskGroups) != 3 {
		t.Fatalf("job: %s", out)
	}
	if bytes.Contains(out, []byte("null")) {
		t.Errorf("the job holds nulls:\n%s", out)
	}
	web := job.TaskGroups[0]
	task := web.Tasks[0]
	if *web.Name != "web" || *web.Count != 3 || task.Driver != DriverRawExec || task.KillSignal != "SIGINT" || *task.KillTimeout != 1500*time.Millisecond {
		t.Errorf("web group: %+v, task %+v", web, task)
	}
	rp := web.RestartPolicy
	if *rp.Attempts != 5 || *rp.Mode != "fail" || *rp.Delay != 2*time.Second || *rp.Interval != 70*time.Second {
		t.Errorf("web restart policy: %d attempts in %s, delay %s, mode %s", *rp.Attempts, *rp.Interval, *rp.Delay, *rp.Mode)
	}
	if r := web.ReschedulePolicy; r == nil || *r.Attempts != 0 || *r.Unlimited {
		t.Errorf("web is rescheduled once its restarts are spent: %+v", r)
	}
	for _, g := range job.TaskGroups {
		rp := g.RestartPolicy
		if *rp.Interval < 5*time.Second || time.Duration(*rp.Attempts)**rp.Delay >= *rp.Interval {
			t.Errorf("%s: a restart policy Nomad refuses: %d attempts of %s in %s", *g.Name, *rp.Attempts, *rp.Delay, *rp.Interval)
		}
	}
	if *job.TaskGroups[1].RestartPolicy.Attempts != 0 {
		t.Errorf("worker (restart never) is restarted")
	}
	if lc := job.TaskGroups[1].Tasks[0].LogConfig; lc == nil || *lc.MaxFiles != 3 || *lc.MaxFileSizeMB != 5 {
		t.Errorf("worker's logs: %+v", lc)
	}
	env := task.Env
	if env["OPM_INSTANCE"] != "${NOMAD_ALLOC_INDEX}" || env["NODE_APP_INSTANCE"] != "${NOMAD_ALLOC_INDEX}" || env["OPM_APP_TOKEN"] != "" || env["NOTIFY_SOCKET"] != "" {
		t.Errorf("web's environment: %v", env)
	}
	for _, kv := range nastyEnv {
		k, v, _ := strings.Cut(kv, "=")
		if got, ok := env[k]; !ok || got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if task.Meta["opm_cron_restart"] != "0 3 * * 1-5" || task.Meta["opm_cwd"] != "/srv/web app" {
		t.Errorf("web's meta: %v", task.Meta)
	}

	// The command runs the app from its directory with its arguments.
	dir := filepath.Join(t.TempDir(), `a "dir" $x`)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	app := api.Spec{Name: "pwd", Exec: "/bin/sh", Argv: []string{"sh", "-c", `pwd; printf '%s\n' "$@"`, "x", "a b", "$HOME"}, Cwd: dir, Restart: api.RestartAlways}
	out, err = Nomad([]api.App{row(app, 0)}, Options{Home: home, Driver: DriverExec})
	if err != nil {
		t.Fatal(err)
	}
	doc.Job = nil
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	task = doc.Job.TaskGroups[0].Tasks[0]
	if task.Driver != DriverExec {
		t.Errorf("driver %s", task.Driver)
	}
	var args []string
	for _, a := range task.Config["args"].([]any) {
		args = append(args, a.(string))
	}
	ran, err := exec.Command(task.Config["command"].(string), args...).Output()
	if err != nil || string(ran) != dir+"\na b\n$HOME\n" {
		t.Errorf("the task's command printed %q (%v), want the app's directory and its arguments", ran, err)
	}
}

func TestCompose(t *testing.T) {
	out, err := Compose(testApps(), Options{Home: home, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Image           string            `yaml:"image"`
			Entrypoint      []string          `yaml:"entrypoint"`
			Command         []string          `yaml:"command"`
			WorkingDir      string            `yaml:"working_dir"`
			Environment     map[string]string `yaml:"environment"`
			Restart         string            `yaml:"restart"`
			StopSignal      string            `yaml:"stop_signal"`
			StopGracePeriod string            `yaml:"stop_grace_period"`
			Deploy          struct {
				Replicas int `yaml:"replicas"`
			} `yaml:"deploy"`
		} `yaml:"services"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("read the compose file back: %v\n%s", err, out)
	}
	undo := func(s string) string { return strings.ReplaceAll(s, "$$", "$") }
	web, ok := doc.Services["web"]
	if !ok || len(doc.Services) != 3 {
		t.Fatalf("services: %v\n%s", doc.Services, out)
	}
	var cmd []string
	for _, w := range web.Command {
		cmd = append(cmd, undo(w))
	}
	if web.Image != PlaceholderImage || web.Entrypoint == nil || len(web.Entrypoint) != 0 ||
		!slices.Equal(cmd, testApps()[0].Spec.Argv) || undo(web.WorkingDir) != "/srv/web app" ||
		web.Restart != "on-failure" || web.StopSignal != "SIGINT" || web.StopGracePeriod != "1500ms" || web.Deploy.Replicas != 3 {
		t.Errorf("web: %+v\n%s", web, out)
	}
	for _, kv := range nastyEnv {
		k, v, _ := strings.Cut(kv, "=")
		if got := undo(web.Environment[k]); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"PATH", "OPM_APP_TOKEN", "NOTIFY_SOCKET", "OPM_INSTANCE", "NODE_APP_INSTANCE"} {
		if _, ok := web.Environment[k]; ok {
			t.Errorf("web's environment has %s", k)
		}
	}
	if w := doc.Services["worker"]; w.Restart != "no" || w.Deploy.Replicas != 0 {
		t.Errorf("worker: %+v", w)
	}
	if _, ok := doc.Services["caf__2"]; !ok {
		t.Errorf("no service for café@2: %v", doc.Services)
	}
	if !bytes.Contains(out, []byte(`restart: "no"`)) {
		t.Errorf("restart no is not quoted (YAML 1.1 reads it as false):\n%s", out)
	}
	out, err = Compose(testApps()[3:4], Options{Home: home, Image: "node:22"})
	if err != nil || !bytes.Contains(out, []byte("image: \"node:22\"\n")) {
		t.Errorf("--image node:22: %v\n%s", err, out)
	}
}

func TestComposeOpm(t *testing.T) {
	out, err := ComposeOpm(testApps(), Options{Home: home, Image: "opm-apps:1", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Image           string   `yaml:"image"`
			Entrypoint      []string `yaml:"entrypoint"`
			Command         []string `yaml:"command"`
			Volumes         []string `yaml:"volumes"`
			Restart         string   `yaml:"restart"`
			StopSignal      string   `yaml:"stop_signal"`
			StopGracePeriod string   `yaml:"stop_grace_period"`
		} `yaml:"services"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("read the compose file back: %v\n%s", err, out)
	}
	svc, ok := doc.Services["opm"]
	if !ok || len(doc.Services) != 1 || svc.Image != "opm-apps:1" || !slices.Equal(svc.Command, []string{"opm", "run", ComposeOpmFile}) ||
		!slices.Equal(svc.Volumes, []string{"./ecosystem.yaml:" + ComposeOpmFile + ":ro"}) || svc.StopSignal != "SIGTERM" ||
		svc.StopGracePeriod != "15s" || svc.Restart != "on-failure" {
		t.Errorf("the opm service: %+v\n%s", svc, out)
	}
	if !bytes.Contains(out, []byte("opm export --format yaml > ecosystem.yaml")) {
		t.Errorf("does not say how to write the file it runs:\n%s", out)
	}
}
