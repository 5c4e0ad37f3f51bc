package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
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
	"opm/daemon/process"
	"opm/daemon/testkit"
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

	web := testkit.UnitSettings(got["opm-web@.service"])
	for k, v := range map[string]string{
		"Type": "notify", "NotifyAccess": "all", "User": "daemon", "Group": "daemon",
		"WorkingDirectory": "/srv/web app", "Restart": "on-failure", "RestartSec": "2s",
		"KillSignal": "SIGINT", "TimeoutStopSec": "1500ms", "SuccessExitStatus": "0 3", "RestartPreventExitStatus": "0 3",
		"RestartForceExitStatus": "SIGHUP SIGINT SIGTERM SIGPIPE",
		"StartLimitBurst":        "6", "StartLimitIntervalSec": "70s", // 6 runs of 10s, 5 waits of 2s
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
	for _, note := range []string{"# Not mapped (systemd", "#   - max_memory_restart 200M:", "#   - watch:", "#   - listen_timeout 5s:", "MemoryMax=200M"} {
		if !strings.Contains(got["opm-web@.service"], note) {
			t.Errorf("opm-web@.service does not say %q", note)
		}
	}
	if !strings.Contains(got["opm-web@.service"], "systemctl enable --now opm-web@{0..2}.service") {
		t.Errorf("opm-web@.service does not say how to enable its instances:\n%s", got["opm-web@.service"])
	}
	for i := range 3 {
		d := testkit.UnitSettings(got[fmt.Sprintf("opm-web@%d.service.d/opm-instance.conf", i)])
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
	timer := testkit.UnitSettings(got["opm-web-restart.timer"])
	if timer["OnCalendar"][0] != "Mon..Fri *-*-* 03:00:00" || timer["AccuracySec"][0] != "1s" || timer["WantedBy"][0] != "timers.target" {
		t.Errorf("opm-web-restart.timer: %v", timer)
	}
	// opm's cron restarts a running app: try-restart, which leaves a
	// stopped or failed unit alone.
	if s := testkit.UnitSettings(got["opm-web-restart.service"]); s["ExecStart"][0] != "systemctl try-restart opm-web@0.service opm-web@1.service opm-web@2.service" {
		t.Errorf("opm-web-restart.service: %v", s)
	}

	worker := testkit.UnitSettings(got["opm-worker.service"])
	for k, v := range map[string]string{"Type": "exec", "Restart": "no", "StandardOutput": "null", "StandardError": "append:" + home + "/logs/worker-err.log", "ExecStart": "@/bin/sleep sleep 1000", "Environment": "A=1", "TimeoutStopSec": "5s"} {
		if len(worker[k]) == 0 || worker[k][0] != v {
			t.Errorf("opm-worker.service: %s=%q, want %q", k, worker[k], v)
		}
	}
	if worker["StartLimitBurst"] != nil || worker["RestartForceExitStatus"] != nil {
		t.Errorf("an app that never restarts has a start limit or forced restarts: %v", worker)
	}
	odd := testkit.UnitSettings(got[`opm-caf\xc3\xa9\x402@.service`])
	if odd["StandardOutput"][0] != "append:"+home+"/logs/café@2-out.log" {
		t.Errorf("merged logs of café@2: %v", odd["StandardOutput"])
	}
	oddTimer := testkit.UnitSettings(got[`opm-caf\xc3\xa9\x402-restart.timer`])
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
	testkit.SystemdVerify(t, paths...)
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

// plainApp is an app with nothing but its command and policy.
func plainApp(name, restart string) api.Spec {
	return api.Spec{Name: name, Command: "/bin/true", Exec: "/bin/true", Argv: []string{"/bin/true"}, Cwd: "/", Restart: restart, MaxRestarts: 3}
}

// exportAll writes rows in the three formats: the systemd files by
// name, the Nomad job decoded, the compose file as text and decoded.
func exportAll(t *testing.T, rows []api.App) (map[string]string, *nomad.Job, string, map[string]map[string]any) {
	t.Helper()
	fs, err := Systemd(rows, Options{Home: home, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Nomad(rows, Options{Home: home, Job: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Job *nomad.Job }
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	text, err := Compose(rows, Options{Home: home})
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(text, &compose); err != nil {
		t.Fatal(err)
	}
	return files(t, fs), doc.Job, string(text), compose.Services
}

// TestKillSignalSpelling: opm keeps kill_signal as typed ("int",
// "sigint", "2"); every format writes its name, which systemd would
// otherwise ignore (KillSignal=int) and Nomad refuse. An app without a
// kill_timeout gets opm's default, not the other supervisor's.
func TestKillSignalSpelling(t *testing.T) {
	for _, typed := range []string{"int", "sigint", "2", "SIGINT", "Int"} {
		spec := plainApp("web", api.RestartAlways)
		spec.KillSignal = typed
		units, job, _, compose := exportAll(t, []api.App{row(spec, 0)})
		set := testkit.UnitSettings(units["opm-web.service"])
		task := job.TaskGroups[0].Tasks[0]
		if !slices.Equal(set["KillSignal"], []string{"SIGINT"}) || task.KillSignal != "SIGINT" || compose["web"]["stop_signal"] != "SIGINT" {
			t.Errorf("kill_signal %q: systemd %q, Nomad %q, compose %v", typed, set["KillSignal"], task.KillSignal, compose["web"]["stop_signal"])
		}
		if !slices.Equal(set["TimeoutStopSec"], []string{"5s"}) || *task.KillTimeout != 5*time.Second || compose["web"]["stop_grace_period"] != "5s" {
			t.Errorf("no kill_timeout: systemd %q, Nomad %s, compose %v; want opm's 5s", set["TimeoutStopSec"], *task.KillTimeout, compose["web"]["stop_grace_period"])
		}
	}
	// A real-time signal has no name: its number, but in Nomad.
	spec := plainApp("rt", api.RestartAlways)
	spec.KillSignal = "40"
	units, job, text, compose := exportAll(t, []api.App{row(spec, 0)})
	task := job.TaskGroups[0].Tasks[0]
	if got := testkit.UnitSettings(units["opm-rt.service"])["KillSignal"]; !slices.Equal(got, []string{"40"}) || compose["rt"]["stop_signal"] != "40" {
		t.Errorf("kill_signal 40: systemd %q, compose %v\n%s", got, compose["rt"]["stop_signal"], text)
	}
	if task.KillSignal != "SIGTERM" || !strings.Contains(fmt.Sprint(task.Meta), "kill_signal 40: Nomad takes signal names only") {
		t.Errorf("kill_signal 40 in Nomad: %q, meta %v", task.KillSignal, task.Meta)
	}
	// systemd takes the number (verify complains of a KillSignal= it
	// cannot read).
	unit := filepath.Join(t.TempDir(), "opm-rt.service")
	if err := os.WriteFile(unit, []byte(units["opm-rt.service"]), 0o644); err != nil {
		t.Fatal(err)
	}
	testkit.SystemdVerify(t, unit)
}

// TestCronRestartSemantics: opm's cron restarts a running app and
// leaves a stopped or errored one alone (try-restart), but starts a
// periodic job (restart never) that is not running (restart).
func TestCronRestartSemantics(t *testing.T) {
	for restart, verb := range map[string]string{api.RestartAlways: "try-restart", api.RestartOnFailure: "try-restart", api.RestartNever: "restart"} {
		spec := plainApp("job", restart)
		spec.CronRestart = "0 * * * *"
		fs, err := Systemd([]api.App{row(spec, 0)}, Options{Home: home})
		if err != nil {
			t.Fatal(err)
		}
		got := files(t, fs)
		if s := testkit.UnitSettings(got["opm-job-restart.service"]); !slices.Equal(s["ExecStart"], []string{"systemctl " + verb + " opm-job.service"}) {
			t.Errorf("restart %s: %q, want systemctl %s", restart, s["ExecStart"], verb)
		}
		if !strings.Contains(got["opm-job-restart.timer"], "(systemctl "+verb+")") {
			t.Errorf("restart %s: the timer does not say what it does:\n%s", restart, got["opm-job-restart.timer"])
		}
	}
}

// TestUnitNameLength: every unit an app's files name must be one systemd
// loads, the timer's and each instance's too, not only the service's.
func TestUnitNameLength(t *testing.T) {
	// 29 é and 4 letters: 236 bytes escaped. opm-<236>.service is 248
	// bytes, opm-<236>-restart.service 256.
	name := strings.Repeat("é", 29) + "abcd"
	spec := plainApp(name, api.RestartAlways)
	if _, err := Systemd([]api.App{row(spec, 0)}, Options{Home: home}); err != nil {
		t.Fatalf("a 248-byte unit name was refused: %v", err)
	}
	spec.CronRestart = "@daily"
	if _, err := Systemd([]api.App{row(spec, 0)}, Options{Home: home}); err == nil || !strings.Contains(err.Error(), "-restart.service") {
		t.Errorf("a 256-byte timer service name: %v", err)
	}
	// 30 é and a letter: 241. opm-<241>@9.service is 255 bytes,
	// opm-<241>@10.service 256.
	spec = plainApp(strings.Repeat("é", 30)+"a", api.RestartAlways)
	spec.Instances = 10
	if _, err := Systemd(rows(spec), Options{Home: home}); err != nil {
		t.Fatalf("instances 0..9, 255 bytes at most: %v", err)
	}
	spec.Instances = 11
	if _, err := Systemd(rows(spec), Options{Home: home}); err == nil || !strings.Contains(err.Error(), "@10.service") {
		t.Errorf("instance 10, 256 bytes: %v", err)
	}
}

// TestNotMappedSaid: every setting a format leaves out (notMapped) is
// said in what it writes: a comment of the unit, the task's Meta, a
// comment on the compose service.
func TestNotMappedSaid(t *testing.T) {
	spec := plainApp("all", api.RestartOnFailure)
	spec.Settings = api.Settings{
		ExpBackoffRestartDelayMs: 200, StopExitCodes: []int{3}, CronRestart: "@hourly", Watch: true,
		WaitReady: true, ListenTimeoutMs: 8000, MaxMemoryRestart: 64 << 20, Instances: 2, IncrementVar: "PORT",
		LogSettings: api.LogSettings{LogFile: "all.log", Time: true},
	}
	spec.Env = []string{"PORT=80"}
	all := rows(spec)
	units, job, text, _ := exportAll(t, all)
	a := group(all)[0]
	meta := job.TaskGroups[0].Tasks[0].Meta
	for _, f := range Formats {
		notes := a.notMapped(f)
		if len(notes) < 4 {
			t.Errorf("%s: only %q left out", f, notes)
		}
		for _, n := range notes {
			var said bool
			switch f {
			case FormatSystemd:
				said = strings.Contains(units["opm-all@.service"], "#   - "+n+"\n")
			case FormatNomad:
				said = slices.Contains(slices.Collect(maps.Values(meta)), n)
			case FormatCompose:
				said = strings.Contains(text, "#   - "+n+"\n")
			}
			if !said {
				t.Errorf("%s does not say %q", f, n)
			}
		}
	}
	for f, want := range map[string][]string{
		FormatSystemd: {"listen_timeout 8s", "watch", "max_memory_restart 64M", "log_file", "time, log_date_format", "log rotation", "exp_backoff_restart_delay"},
		FormatNomad:   {"restart on-failure", "stop_exit_codes", "wait_ready", "cron_restart", "increment_var", "out and error logs", "exp_backoff_restart_delay"},
		FormatCompose: {"max_restarts", "restart_delay", "stop_exit_codes", "wait_ready", "cron_restart", "increment_var", "instances", "out and error logs"},
	} {
		joined := "\n" + strings.Join(a.notMapped(f), "\n")
		for _, w := range want {
			if !strings.Contains(joined, "\n"+w) {
				t.Errorf("%s does not leave out %s: %q", f, w, a.notMapped(f))
			}
		}
	}
}

// TestServiceEnvNotExported: what a service manager or the daemon sets
// for one process (api.ServiceEnv) is in no export.
func TestServiceEnvNotExported(t *testing.T) {
	if api.AppTokenEnv != process.AppTokenEnv {
		t.Fatalf("api.AppTokenEnv %q is not process.AppTokenEnv %q", api.AppTokenEnv, process.AppTokenEnv)
	}
	spec := plainApp("svc", api.RestartAlways)
	spec.Env = []string{"KEEP=1"}
	for _, k := range api.ServiceEnv {
		spec.Env = append(spec.Env, k+"=x")
	}
	units, job, text, _ := exportAll(t, []api.App{row(spec, 0)})
	for _, k := range api.ServiceEnv {
		if strings.Contains(units["opm-svc.service"], k+"=") || job.TaskGroups[0].Tasks[0].Env[k] != "" || strings.Contains(text, k+":") {
			t.Errorf("%s is exported", k)
		}
	}
	if !strings.Contains(units["opm-svc.service"], "Environment=KEEP=1") || job.TaskGroups[0].Tasks[0].Env["KEEP"] != "1" || !strings.Contains(text, "KEEP:") {
		t.Errorf("the app's own variable is not exported")
	}
}
