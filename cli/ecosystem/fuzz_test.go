package ecosystem

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"opm/daemon/api"
)

// fuzzFormats are the formats FuzzLoad reads, by its format argument.
var fuzzFormats = []string{FormatYAML, FormatJSON, FormatTOML}

// FuzzLoad reads any bytes as a YAML, JSON or TOML ecosystem file. It
// never panics; what it refuses is an *Error; what it accepts holds to
// the daemon's rules, and exports and reads back to the same requests.
func FuzzLoad(f *testing.F) {
	for i, format := range fuzzFormats {
		for _, name := range []string{"apps.yaml", "apps.json", "apps.toml"} {
			if formatOf(name) != format {
				continue
			}
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(i), data)
		}
	}
	f.Add(uint8(0), []byte("a: &a [*a]\napps: [{script: x, env: *a}]\n"))
	f.Add(uint8(0), []byte("apps:\n  - {script: a.js, args: \"a 'b c' d\", watch: [1, 2.5, {x: null}]}\n"))
	f.Add(uint8(1), []byte(`[{"script": "a.js", "name": "x", "kill_signal": 2, "stop_exit_codes": 1}]`))
	f.Add(uint8(2), []byte("[[apps]]\nscript = \"\"\"\n[[apps]]\n\"\"\"\n[apps.env]\nA = 1\n"))

	f.Fuzz(func(t *testing.T, format uint8, data []byte) {
		l := &loader{file: "fuzz", format: fuzzFormats[int(format)%len(fuzzFormats)], dir: "/fuzz", o: Options{Environ: []string{}, Env: "production"}}
		file, err := l.fromBytes(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			return
		}
		apps := make([]api.App, len(file.Apps))
		for i, a := range file.Apps {
			checkRequest(t, a)
			apps[i] = api.App{Name: a.Name, Spec: specOf(a.Request)}
		}
		for _, format := range fuzzFormats {
			out, err := Export(apps, format)
			if err != nil && format == FormatTOML && strings.Contains(err.Error(), "which TOML cannot write") {
				continue
			}
			if err != nil {
				t.Fatalf("export %s: %v", format, err)
			}
			back, err := (&loader{file: "back", format: format, dir: "/elsewhere", o: Options{Environ: []string{}}}).fromBytes(out)
			if err != nil {
				t.Fatalf("read back %s: %v\n%s", format, err, out)
			}
			if len(back.Apps) != len(apps) {
				t.Fatalf("read back %d apps from %s, want %d", len(back.Apps), format, len(apps))
			}
			for i, a := range back.Apps {
				if got, want := specOf(a.Request), apps[i].Spec; !sameSpec(got, want) {
					t.Fatalf("%s round trip of app %q:\n got  %+v\n want %+v\n%s", format, want.Name, got, want, out)
				}
			}
		}
	})
}

// fromBytes reads a file's content, as Load reads a file.
func (l *loader) fromBytes(data []byte) (*File, error) {
	root, err := l.parse(data)
	if err != nil {
		return nil, err
	}
	return l.load(root)
}

// checkRequest fails the test when a request breaks a rule the daemon
// holds requests to.
func checkRequest(t *testing.T, a App) {
	t.Helper()
	r := a.Request
	switch {
	case api.CheckName(a.Name) != nil || r.Name != a.Name:
		t.Fatalf("app name %q", a.Name)
	case r.Command == "":
		t.Fatalf("app %q has no command", a.Name)
	case !filepath.IsAbs(r.Cwd) || r.Dir != r.Cwd:
		t.Fatalf("app %q cwd %q dir %q", a.Name, r.Cwd, r.Dir)
	case r.Restart != "" && api.CheckRestartPolicy(r.Restart) != nil:
		t.Fatalf("app %q restart %q", a.Name, r.Restart)
	case r.MaxRestarts != nil && api.CheckMaxRestarts(*r.MaxRestarts) != nil:
		t.Fatalf("app %q max restarts %d", a.Name, *r.MaxRestarts)
	case r.KillTimeoutMs != 0 && api.CheckKillTimeoutMs(r.KillTimeoutMs) != nil:
		t.Fatalf("app %q kill timeout %d", a.Name, r.KillTimeoutMs)
	case r.KillSignal != "" && api.CheckSignal(r.KillSignal) != nil:
		t.Fatalf("app %q kill signal %q", a.Name, r.KillSignal)
	}
	for _, ms := range []int64{r.RestartDelayMs, r.ExpBackoffRestartDelayMs, r.MinUptimeMs} {
		if ms != 0 && api.CheckSettingMs(ms) != nil {
			t.Fatalf("app %q setting %d ms", a.Name, ms)
		}
	}
	for _, c := range r.StopExitCodes {
		if api.CheckExitCode(c) != nil {
			t.Fatalf("app %q stop exit code %d", a.Name, c)
		}
	}
	if api.CheckInstances(r.Instances) != nil || r.IncrementVar != "" && api.CheckEnvName("increment_var", r.IncrementVar) != nil ||
		r.InstanceVar != "" && api.CheckEnvName("instance_var", r.InstanceVar) != nil {
		t.Fatalf("app %q instances %d, increment_var %q, instance_var %q", a.Name, r.Instances, r.IncrementVar, r.InstanceVar)
	}
	for k, v := range r.Pending {
		if !pendingKeys[k] || !json.Valid(v) {
			t.Fatalf("app %q kept %q = %s", a.Name, k, v)
		}
	}
}

// specOf is a definition as the daemon would report it for a request,
// without resolving the command: the defaults filled in.
func specOf(r api.StartRequest) api.Spec {
	s := api.Spec{
		Name: r.Name, Command: r.Command, Args: r.Args, Cwd: r.Cwd, Dir: r.Dir, Env: r.Env,
		Restart: r.Restart, MaxRestarts: 15, KillTimeoutMs: r.KillTimeoutMs,
		Interpreter: r.Interpreter, InterpreterArgs: r.InterpreterArgs, Settings: r.Settings,
	}
	if s.Restart == "" {
		s.Restart = api.RestartAlways
	}
	if r.MaxRestarts != nil {
		s.MaxRestarts = *r.MaxRestarts
	}
	return s
}

// sameSpec compares definitions as a reader of an exported file sees
// them: environments as sets, kept values by meaning, SIGTERM for no
// signal, the cwd wherever the file is.
func sameSpec(a, b api.Spec) bool {
	norm := func(s api.Spec) api.Spec {
		s.Env = slices.Sorted(slices.Values(s.Env))
		if len(s.Env) == 0 {
			s.Env = nil
		}
		if len(s.Args) == 0 {
			s.Args = nil
		}
		if len(s.InterpreterArgs) == 0 {
			s.InterpreterArgs = nil
		}
		if s.KillSignal == "" {
			s.KillSignal = "SIGTERM"
		}
		if s.Interpreter == "none" { // what no interpreter is written as
			s.Interpreter = ""
		}
		pending := map[string]any{}
		for k, v := range s.Pending {
			var x any
			_ = json.Unmarshal(v, &x)
			pending[k] = x
		}
		s.Pending = nil
		s.Settings.Pending = map[string]json.RawMessage{}
		for k, v := range pending {
			b, _ := json.Marshal(v)
			s.Settings.Pending[k] = b
		}
		return s
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// FuzzPM2Dump reads any bytes as PM2's dump.pm2. It never panics; what it
// refuses is an *Error; what it accepts holds to the daemon's rules.
func FuzzPM2Dump(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "dump.pm2"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`[{"name": "a", "pm_exec_path": "/bin/true", "env": {"a": {}, "PM2_HOME": 1}, "instance_var": "a", "watch": [1]}]`))
	f.Add([]byte(`[{"pm_exec_path": "x", "pm_out_log_path": null, "node_args": "--a", "interpreter_args": [], "status": "stopped"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l := &loader{file: "fuzz", format: FormatPM2Dump, dir: "/fuzz", o: Options{Environ: []string{}}}
		file, err := l.dump(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			return
		}
		for _, a := range file.Apps {
			checkRequest(t, a)
		}
	})
}
