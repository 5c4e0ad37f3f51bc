package ecosystem

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"opm/daemon/api"
)

// callerEnv is the environment the tests pass as the caller's.
var callerEnv = []string{"PATH=/usr/bin:/bin", "NODE_ENV=caller"}

// testdataApps is what every testdata/apps.* file defines, read with
// callerEnv and --env envName; PM2's formats stop apps with SIGINT unless
// they say otherwise.
func testdataApps(t *testing.T, format, envName string) []App {
	t.Helper()
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	pm2Signal := "SIGINT"
	if format == FormatTOML {
		pm2Signal = ""
	}
	nodeEnv := "NODE_ENV=development"
	if envName == "production" {
		nodeEnv = "NODE_ENV=production"
	}
	ten := 10
	www := filepath.Join(dir, "www")
	return []App{
		{Name: "web", Request: api.StartRequest{
			Command: "./server.js", Name: "web",
			Args: []string{"--port", "3000", "--title", "hello world"},
			Cwd:  www, Dir: www,
			Env:           []string{"PATH=/usr/bin:/bin", nodeEnv, "PORT=3000"},
			MaxRestarts:   &ten,
			KillTimeoutMs: 5000,
			Settings:      api.Settings{MinUptimeMs: 10000, KillSignal: pm2Signal},
		}},
		{Name: "worker", Request: api.StartRequest{
			Command: "worker.py", Name: "worker",
			Cwd: dir, Dir: dir,
			Env:             callerEnv,
			Restart:         api.RestartNever,
			Interpreter:     "python3",
			InterpreterArgs: []string{"-u"},
			Settings:        api.Settings{KillSignal: "SIGTERM", RestartDelayMs: 2000, StopExitCodes: []int{0, 3}},
		}},
		{Name: "cron-task", Request: api.StartRequest{
			Command: "./bin/cron-task.sh", Name: "cron-task",
			Cwd: dir, Dir: dir,
			Env:      []string{"PATH=/usr/bin:/bin", "NODE_ENV=caller", "DEBUG=true"},
			Restart:  api.RestartOnFailure,
			Settings: api.Settings{ExpBackoffRestartDelayMs: 100, KillSignal: pm2Signal},
		}},
	}
}

// needNode skips a test that evaluates JavaScript on a machine without
// node.
func needNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed (not in PATH): JavaScript ecosystem files cannot be evaluated here; install node to run this test")
	}
}

// sameApps fails the test unless got and want define the same apps.
func sameApps(t *testing.T, got, want []App) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d apps, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Name != want[i].Name || !reflect.DeepEqual(got[i].Request, want[i].Request) {
			t.Errorf("app %d:\n got  %q %+v\n want %q %+v", i, got[i].Name, got[i].Request, want[i].Name, want[i].Request)
		}
	}
}

// Every format reads the same apps from testdata/apps.*, and says where
// each app is defined when its parser knows.
func TestFormatsReadTheSameApps(t *testing.T) {
	for _, tt := range []struct {
		file, format string
		lines        []int
	}{
		{"apps.yaml", FormatYAML, []int{4, 17, 26}},
		{"apps.json", FormatJSON, []int{3, 19, 29}},
		{"apps.toml", FormatTOML, []int{4, 20, 30}},
		{"apps.config.js", FormatJS, []int{0, 0, 0}},
		{"apps.config.mjs", FormatJS, []int{0, 0, 0}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			if tt.format == FormatJS {
				needNode(t)
			}
			f, err := Load(filepath.Join("testdata", tt.file), Options{Environ: callerEnv})
			if err != nil {
				t.Fatal(err)
			}
			if f.Format != tt.format {
				t.Errorf("format %q, want %q", f.Format, tt.format)
			}
			sameApps(t, f.Apps, testdataApps(t, tt.format, ""))
			for i, a := range f.Apps {
				if a.Line != tt.lines[i] {
					t.Errorf("app %q on line %d, want %d", a.Name, a.Line, tt.lines[i])
				}
			}
		})
	}
}

// --env NAME applies each app's env_NAME over its env, which is over the
// caller's environment; a NAME no app defines is a warning.
func TestEnvOption(t *testing.T) {
	for _, file := range []string{"apps.yaml", "apps.json", "apps.toml", "apps.config.js"} {
		t.Run(file, func(t *testing.T) {
			if strings.HasSuffix(file, ".js") {
				needNode(t)
			}
			format := formatOf(file)
			f, err := Load(filepath.Join("testdata", file), Options{Env: "production", Environ: callerEnv})
			if err != nil {
				t.Fatal(err)
			}
			sameApps(t, f.Apps, testdataApps(t, format, "production"))
			for _, w := range f.Warnings {
				if strings.Contains(w, "--env") {
					t.Errorf("warning %q, but web defines env_production", w)
				}
			}

			f, err = Load(filepath.Join("testdata", file), Options{Env: "staging", Environ: callerEnv})
			if err != nil {
				t.Fatal(err)
			}
			sameApps(t, f.Apps, testdataApps(t, format, ""))
			if !hasWarning(f, "--env staging: no app defines env_staging") {
				t.Errorf("no warning that env_staging is nowhere: %q", f.Warnings)
			}
		})
	}
}

func hasWarning(f *File, part string) bool {
	for _, w := range f.Warnings {
		if strings.Contains(w, part) {
			return true
		}
	}
	return false
}

// --only keeps the named apps in file order; a name the file lacks is an
// error that lists the ones it has.
func TestOnly(t *testing.T) {
	path := filepath.Join("testdata", "apps.yaml")
	tests := []struct {
		name    string
		only    []string
		want    []string
		wantErr string
	}{
		{name: "file order", only: []string{"cron-task", "web"}, want: []string{"web", "cron-task"}},
		{name: "one", only: []string{"worker"}, want: []string{"worker"}},
		{name: "spaces and repeats", only: []string{" web", "web ", ""}, want: []string{"web"}},
		{name: "none means all", only: nil, want: []string{"web", "worker", "cron-task"}},
		{name: "unknown", only: []string{"web", "api"}, wantErr: `testdata/apps.yaml: app "api": not in the file (--only); it defines "web", "worker", "cron-task"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Load(path, Options{Only: tt.only, Environ: callerEnv})
			if tt.wantErr != "" {
				var e *Error
				if !errors.As(err, &e) || err.Error() != tt.wantErr || f != nil {
					t.Fatalf("Load = %v, %v; want *Error %q", f, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, a := range f.Apps {
				names = append(names, a.Name)
			}
			if !reflect.DeepEqual(names, tt.want) {
				t.Fatalf("apps %q, want %q", names, tt.want)
			}
		})
	}
}

// write puts content in dir/name and returns its path.
func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// An unknown key and a key opm keeps but does not act on (exec_mode
// cluster) are one warning each per file, naming the apps and the first
// line; the kept value is in Settings.Pending as the file wrote it. So
// is PM2's SIGINT. Keys opm acts on (watch, max_memory_restart,
// instances) are read into settings.
func TestWarnings(t *testing.T) {
	path := write(t, t.TempDir(), "eco.yaml", `apps:
  - name: web
    script: app.js
    colour: blue
    watch: [src, lib]
    instances: 4
    exec_mode: cluster
  - name: api
    script: api.js
    colour: red
    watch: true
    max_memory_restart: 200M
    kill_signal: SIGTERM
    exec_mode: fork
deploy:
  production: {}
`)
	f, err := Load(path, Options{Environ: callerEnv})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		path + `:15: deploy is PM2's deployment setup, which opm does not do: ignored`,
		path + `:4: unknown key "colour" (apps "web", "api"): ignored; check its spelling (opm reads PM2's key names)`,
		path + `:7: exec_mode cluster (app "web") is kept but not acted on: ` + ExecModeNote,
		path + `: app "web" stops with SIGINT, as under PM2; set kill_signal to change it`,
	}
	if !reflect.DeepEqual(f.Warnings, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(f.Warnings, "\n"), strings.Join(want, "\n"))
	}
	wantPending := []map[string]json.RawMessage{{"exec_mode": json.RawMessage(`"cluster"`)}, {"exec_mode": json.RawMessage(`"fork"`)}}
	for i, a := range f.Apps {
		if !reflect.DeepEqual(a.Request.Pending, wantPending[i]) {
			t.Errorf("app %q pending %s, want %s", a.Name, a.Request.Pending, wantPending[i])
		}
	}
	if n := f.Apps[0].Request.Instances; n != 4 {
		t.Errorf("web instances %d, want 4", n)
	}
	web, api := f.Apps[0].Request.Settings, f.Apps[1].Request.Settings
	if !web.Watch || !reflect.DeepEqual(web.WatchPaths, []string{"src", "lib"}) || !api.Watch || len(api.WatchPaths) != 0 || api.MaxMemoryRestart != 200<<20 {
		t.Errorf("web watch %v %q; api watch %v %q, max_memory_restart %d", web.Watch, web.WatchPaths, api.Watch, api.WatchPaths, api.MaxMemoryRestart)
	}
}

// A value of the wrong type is an *Error naming the file, line, app, key,
// the type wanted and the value found, and no app is returned.
func TestWrongTypes(t *testing.T) {
	// each want is the message after "<file>:"
	tests := []appError{
		{"whole number", "max_restarts: many", `3: app "web": max_restarts: want a whole number, got "many"`},
		{"fraction", "max_restarts: 2.5", `3: app "web": max_restarts: want a whole number, got 2.5`},
		{"out of range", "max_restarts: 5000000", `3: app "web": max_restarts: must be between 0 and 1000000, got 5000000`},
		{"boolean", "autorestart: 'no'", `3: app "web": autorestart: want true or false, got "no"`},
		{"env as a list", "env: [A=1]", `3: app "web": env: want a map of variables (NAME: value), got a list`},
		{"env value", "env: {A: {B: 1}}", `3: app "web": env.A: want a string, number or boolean, got a map`},
		{"env_NAME unused still checked", "env_staging: 5", `3: app "web": env_staging: want a map of variables (NAME: value), got 5`},
		{"args as a map", "args: {a: 1}", `3: app "web": args: want arguments (a string, or a list of strings), got a map`},
		{"args item", "args: [a, [b]]", `3: app "web": args: want arguments (a string, or a list of strings), got a list in the list`},
		{"unclosed quote", `args: "a 'b"`, `3: app "web": args: cannot split "a 'b" into words (a quote left open, or a bare '(' or ')'); fix the quoting, or write the arguments as a list`},
		{"shell operator", `args: "a | b"`, `3: app "web": args: "a | b" holds "|", which only a shell understands; quote it, or write the arguments as a list`},
		{"signal", "kill_signal: SIGFOO", `3: app "web": kill_signal: unknown signal "SIGFOO": use a name such as SIGINT, SIGTERM or SIGUSR2, or a number`},
		{"signal type", "kill_signal: [INT]", `3: app "web": kill_signal: want a signal (a name such as "SIGINT", or its number), got a list`},
		{"kill timeout", "kill_timeout: 0", `3: app "web": kill_timeout: must be between 1ms and 24h, got 0ms`},
		{"duration", "min_uptime: soon", `3: app "web": min_uptime: want milliseconds (a whole number) or a duration such as "10s", got "soon"`},
		{"negative", "restart_delay: -5", `3: app "web": restart_delay: cannot be negative, got -5`},
		{"too long", "restart_delay: 48h", `3: app "web": restart_delay: must be a positive number of milliseconds up to 86400000 (24h), got 172800000`},
		{"exit code", "stop_exit_codes: [0, 300]", `3: app "web": stop_exit_codes: an exit code must be between 0 and 255, got 300`},
		{"exit code type", "stop_exit_codes: [zero]", `3: app "web": stop_exit_codes: want an exit code (0 to 255) or a list of them, got "zero" in the list`},
		{"policy", "restart: sometimes", `3: app "web": restart: unknown restart policy "sometimes": use always, on-failure or never`},
		{"contradiction", "restart: always\n    autorestart: false", `4: app "web": autorestart: false contradicts restart: always; keep one of the two`},
		{"interpreter args twice", "node_args: -a\n    interpreter_args: -b", `4: app "web": interpreter_args: node_args and interpreter_args are one setting (the interpreter's arguments); keep one`},
		{"interpreter", "interpreter: ''", `3: app "web": interpreter: want an interpreter (a program such as "python3", or "none" to run the script itself), got ""`},
		{"cwd", "cwd: 7", `3: app "web": cwd: want a directory (a string), got 7`},
	}
	checkAppErrors(t, tests)
}

// The app itself is wrong: no script, not a map, a name no app may have.
func TestBadApps(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"no script", "apps:\n  - name: web\n", `2: app "web": script: missing: every app needs a script (the file or command to run)`},
		{"script type", "apps:\n  - script: [a]\n", `2: app #1: script: want the file or command to run (a string), got a list`},
		{"not a map", "apps:\n  - app.js\n", `2: app #1: want an app (a map of keys such as name and script), got "app.js"`},
		{"apps not a list", "apps: {web: {script: a.js}}\n", `1: apps: want a list of apps, got a map`},
		{"no apps", "name: web\n", `1: no apps: write apps: followed by a list of apps, each with at least a script`},
		{"empty list", "apps: []\n", `1: the apps list is empty: write apps: followed by a list of apps, each with at least a script`},
		{"a scalar", "hello\n", `1: want a map with an apps list, got "hello": write apps: followed by a list of apps, each with at least a script`},
		{"bad name", "apps:\n  - name: all\n    script: a.js\n", `2: app #1: name: "all" is reserved for targeting every app; pick another --name`},
		{"bad default name", "apps:\n  - script: ./42.js\n", `2: app #1: name: none given, and the one PM2 would take from the script ("42") cannot be used: app name "42" is a number and would be mistaken for an id; pick another --name`},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, dir, "eco.yaml", tt.file)
			_, err := Load(path, Options{Environ: callerEnv})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Load: %v, want an *Error", err)
			}
			if got := strings.TrimPrefix(err.Error(), path+":"); got != tt.want {
				t.Fatalf("error\n %s\nwant\n %s", got, tt.want)
			}
		})
	}
}

// A file that cannot be parsed, or read, is an *Error with the line the
// parser names.
func TestUnparseable(t *testing.T) {
	tests := []struct {
		name, file, content string
		line                int
		want                string
	}{
		{"yaml syntax", "eco.yaml", "apps:\n  - name: web\n    script: a.js\n    cwd: x: y\n", 4, "cannot parse YAML: mapping values are not allowed in this context"},
		{"yaml tab", "eco.yaml", "apps:\n\t- name: web\n", 2, "cannot parse YAML"},
		{"yaml duplicate key", "eco.yaml", "apps:\n  - name: web\n    script: a.js\n    name: api\n", 4, `key "name" appears twice in the same map (lines 2 and 4)`},
		{"yaml second document", "eco.yaml", "apps: []\n---\napps: []\n", 2, "a second YAML document"},
		{"yaml empty", "eco.yml", "# nothing\n", 0, "the file is empty"},
		{"yaml unknown alias", "eco.yaml", "apps:\n  - *nope\n", 0, "cannot parse YAML: unknown anchor 'nope' referenced"},
		{"json missing comma", "eco.json", "{\n  \"apps\": [\n    {\"name\": \"web\"\n     \"script\": \"a.js\"}\n  ]\n}\n", 4, "cannot parse JSON: invalid character '\"' after object key:value pair"},
		{"json truncated", "eco.json", "{\n  \"apps\": [\n", 2, "the file ends in the middle of a value"},
		{"json trailing data", "eco.json", "{\"apps\": []}\n{}\n", 2, "more data after the end of the document"},
		{"json trailing comma", "eco.json", "{\n  \"apps\": [\n    {\"script\": \"a.js\"},\n  ]\n}\n", 4, "remove comments and trailing commas"},
		{"json comments", "eco.json", "{\n  // web\n  \"apps\": []\n}\n", 2, "PM2 reads .json files as JavaScript; opm reads them as JSON"},
		{"json duplicate key", "eco.json", "{\"apps\": [{\"script\": \"a\",\n\"script\": \"b\"}]}", 2, `key "script" appears twice in the same map (lines 1 and 2)`},
		{"json not utf-8", "eco.json", "{\"apps\":\n [\"\xff\"]}", 2, "not valid UTF-8"},
		{"json empty", "eco.json", " \n", 0, "the file is empty"},
		{"yaml alias bomb", "eco.yaml", bomb(), 6, "more than 262144 values (with YAML aliases expanded)"},
		{"json deep", "eco.json", strings.Repeat("[", 100000), 1, "values nest more than 32 levels deep"},
		{"toml", "eco.toml", "[[apps]]\nname = \"web\"\nscript = a.js\n", 3, "cannot parse TOML"},
		{"toml duplicate key", "eco.toml", "[[apps]]\nname = \"web\"\nname = \"api\"\n", 3, "cannot parse TOML"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, dir, tt.file, tt.content)
			_, err := Load(path, Options{Environ: callerEnv})
			var e *Error
			if !errors.As(err, &e) || e.Line != tt.line || !strings.Contains(err.Error(), tt.want) || e.File != path {
				t.Fatalf("Load: %v (%#v); want an *Error on line %d containing %q", err, e, tt.line, tt.want)
			}
		})
	}
}

// bomb is a small YAML file whose aliases expand to a billion values.
func bomb() string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d]\n", i, i, i-1)
	}
	b.WriteString("apps: [{script: a.js, watch: *a9}]\n")
	return b.String()
}

// A missing file, a directory and a name that is no ecosystem file's are
// errors that say so.
func TestUnreadable(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "d.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		filepath.Join(dir, "missing.yaml"): "cannot read it: no such file or directory (check the path)",
		filepath.Join(dir, "d.yaml"):       "is a directory, not an ecosystem file",
		filepath.Join(dir, "app.js"):       "not an ecosystem file: its name must end in",
	} {
		_, err := Load(path, Options{})
		var e *Error
		if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), path+": "+want) {
			t.Errorf("Load(%s): %v, want an *Error %q", path, err, want)
		}
	}
	_, err := Load(filepath.Join(dir, "missing.yaml"), Options{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file's error %v is not os.ErrNotExist", err)
	}
}

// Two apps of one name are an error naming both lines; apps without a
// name take PM2's default, and two of those may clash too.
func TestDuplicateNames(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, file, content, want string
	}{
		{"named", "eco.yaml", "apps:\n  - name: web\n    script: a.js\n  - name: api\n    script: b.js\n  - name: web\n    script: c.js\n",
			`:6: app "web": defined twice, on lines 2 and 6; give each app its own name`},
		{"default names", "eco.json", "[\n{\"script\": \"./app.js\"},\n{\"script\": \"lib/app.mjs\"}\n]\n",
			`:3: app "app": defined twice, on lines 2 and 3; give each app its own name`},
		{"toml", "eco.toml", "[[apps]]\nname = \"web\"\nscript = \"a.js\"\n\n[[apps]]\nname = \"web\"\nscript = \"b.js\"\n",
			`:5: app "web": defined twice, on lines 1 and 5; give each app its own name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, dir, tt.file, tt.content)
			_, err := Load(path, Options{})
			var e *Error
			if !errors.As(err, &e) || err.Error() != path+tt.want {
				t.Fatalf("Load: %v, want an *Error %q", err, path+tt.want)
			}
		})
	}
}

// Apps from PM2's formats that set no kill_signal stop with SIGINT, as
// under PM2, and one warning says so; opm's TOML keeps opm's default.
func TestPM2KillSignalDefault(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"eco.yaml":      "apps:\n  - name: a\n    script: a.js\n  - name: b\n    script: b.js\n  - name: c\n    script: c.js\n    kill_signal: 15\n",
		"eco.json":      `{"apps": [{"name": "a", "script": "a.js"}, {"name": "b", "script": "b.js"}, {"name": "c", "script": "c.js", "kill_signal": "SIGTERM"}]}`,
		"eco.toml":      "[[apps]]\nname = \"a\"\nscript = \"a.js\"\n[[apps]]\nname = \"b\"\nscript = \"b.js\"\n[[apps]]\nname = \"c\"\nscript = \"c.js\"\nkill_signal = \"TERM\"\n",
		"eco.config.js": `module.exports = [{name: 'a', script: 'a.js'}, {name: 'b', script: 'b.js'}, {name: 'c', script: 'c.js', kill_signal: 'SIGTERM'}];`,
	}
	for name, content := range files {
		t.Run(name, func(t *testing.T) {
			if strings.HasSuffix(name, ".js") {
				needNode(t)
			}
			path := write(t, dir, name, content)
			f, err := Load(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			want, warning := "SIGINT", path+`: apps "a", "b" stop with SIGINT, as under PM2; set kill_signal to change it`
			if f.Format == FormatTOML {
				want, warning = "", ""
			}
			for _, a := range f.Apps[:2] {
				if a.Request.KillSignal != want {
					t.Errorf("app %q kill signal %q, want %q", a.Name, a.Request.KillSignal, want)
				}
			}
			if got := f.Apps[2].Request.KillSignal; got != "SIGTERM" {
				t.Errorf("app c kill signal %q, want SIGTERM as set", got)
			}
			var got []string
			for _, w := range f.Warnings {
				if strings.Contains(w, "SIGINT") {
					got = append(got, w)
				}
			}
			if (warning == "" && len(got) > 0) || (warning != "" && !reflect.DeepEqual(got, []string{warning})) {
				t.Errorf("SIGINT warnings %q, want %q", got, warning)
			}
		})
	}
}

// args as a string is split as a shell splits words: quotes group,
// backslashes escape, nothing is expanded; what only a shell would do
// is refused.
func TestArgsSplitting(t *testing.T) {
	tests := []struct {
		args string // a YAML value
		want []string
	}{
		{`--port 3000`, []string{"--port", "3000"}},
		{`"--title 'hello world' -v"`, []string{"--title", "hello world", "-v"}},
		{`'--name "a b" c'`, []string{"--name", "a b", "c"}},
		{`'a\ b c'`, []string{"a b", "c"}},
		{`'--msg "it''s" $HOME'`, []string{"--msg", "it's", "$HOME"}},
		{`'  spaced   out  '`, []string{"spaced", "out"}},
		{`'"" x'`, []string{"", "x"}},
		{`'--sep "a;b"'`, []string{"--sep", "a;b"}},
		{`''`, []string{}},
		{`[--port, 3000, true]`, []string{"--port", "3000", "true"}},
		{`[]`, []string{}},
		{`8080`, []string{"8080"}},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			path := write(t, dir, "eco.yaml", "apps:\n  - script: app.js\n    args: "+tt.args+"\n")
			f, err := Load(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Apps[0].Request.Args; !reflect.DeepEqual(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Fatalf("args %q, want %q", got, tt.want)
			}
		})
	}
}

// The other keys' readings: durations as PM2 writes them, signals by
// name or number, a relative and an absolute cwd, null as not set, YAML
// anchors and merge keys, PM2's single-app file.
func TestKeyReadings(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "eco.yaml", `defaults: &defaults
  kill_timeout: 3s
  env: {SHARED: "1"}
apps:
  - <<: *defaults
    name: a
    script: a.js
    min_uptime: 2m
    restart_delay: "1500"
    exp_backoff_restart_delay: 1.5s
    kill_signal: usr2
    stop_exit_codes: 3
    cwd: /srv
    watch: null
    env_production: null
  - <<: *defaults
    name: b
    script: b.js
    kill_timeout: 1000
    kill_signal: 1
    cwd: ../other
    autorestart: true
    restart: on-failure
`)
	f, err := Load(path, Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.Apps[0].Request, f.Apps[1].Request
	if a.MinUptimeMs != 120000 || a.RestartDelayMs != 1500 || a.ExpBackoffRestartDelayMs != 1500 || a.KillTimeoutMs != 3000 ||
		a.KillSignal != "SIGUSR2" || !reflect.DeepEqual(a.StopExitCodes, []int{3}) || a.Cwd != "/srv" || a.Dir != "/srv" || a.Pending != nil ||
		!reflect.DeepEqual(a.Env, []string{"SHARED=1"}) {
		t.Errorf("app a: %+v", a)
	}
	if b.KillTimeoutMs != 1000 || b.KillSignal != "SIGHUP" || b.Cwd != filepath.Join(filepath.Dir(dir), "other") || b.Restart != api.RestartOnFailure {
		t.Errorf("app b: %+v", b)
	}
	if !hasWarning(f, `unknown top-level key "defaults"`) {
		t.Errorf("no warning for the top-level defaults key: %q", f.Warnings)
	}

	single := write(t, dir, "single.json", `{"script": "srv.py", "env": {"A": "1"}}`)
	f, err = Load(single, Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Apps) != 1 || f.Apps[0].Name != "srv" || !reflect.DeepEqual(f.Apps[0].Request.Env, []string{"A=1"}) || len(f.Warnings) != 1 {
		t.Errorf("single app file: %+v, warnings %q", f.Apps, f.Warnings)
	}
}

func TestIsFile(t *testing.T) {
	for path, want := range map[string]bool{
		"ecosystem.config.js":       true,
		"/a/b/pm2.config.cjs":       true,
		"site.config.mjs":           true,
		"ECOSYSTEM.CONFIG.JS":       true,
		"process.json":              true,
		"apps.yaml":                 true,
		"apps.yml":                  true,
		"opm.toml":                  true,
		"app.js":                    false,
		"config.js":                 false,
		".config.js":                false,
		"server.mjs":                false,
		"python3 -m http.server":    false,
		"run.sh":                    false,
		"./bin/www":                 false,
		"dir.yaml/app.js":           false,
		"ecosystem.config.js.bak":   false,
		"ecosystem.config.json.old": false,
	} {
		if got := IsFile(path); got != want {
			t.Errorf("IsFile(%q) = %v, want %v", path, got, want)
		}
	}
}

// Every format's errors point at the line of the key at fault, in the
// app at fault, nested keys included.
func TestErrorLines(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		file, content string
		want          string
	}{
		{"eco.yaml", "apps:\n  - name: a\n    script: a.js\n    env:\n      A: 1\n  - name: b\n    script: b.js\n    env:\n      A: 1\n      B: [x]\n",
			`:10: app "b": env.B: want a string, number or boolean, got a list`},
		{"eco.json", "{\"apps\": [\n {\"name\": \"a\", \"script\": \"a.js\"},\n {\"name\": \"b\",\n  \"script\": \"b.js\",\n  \"env\": {\"A\": 1,\n   \"B\": [\"x\"]}}]}\n",
			`:6: app "b": env.B: want a string, number or boolean, got a list`},
		{"eco.toml", "[[apps]]\nname = \"a\"\nscript = \"a.js\"\n[apps.env]\nB = 1\n\n[[apps]]\nname = \"b\"\nscript = \"\"\"\n[[apps]]\"\"\"\nenv_x = { B = 1 }\n[apps.env]\nA = 1\nB = [\"x\"]\n",
			`:14: app "b": env.B: want a string, number or boolean, got a list`},
		{"eco2.toml", "[[apps]]\nname = \"a\"\nscript = \"a.js\"\n\n[[apps]]\nname = \"b\"\n'script' = \"b.js\"\n[apps.env]\nmax_restarts = 1\n[[apps]]\nscript = \"c.js\"\n  max_restarts = \"many\"\n",
			`:12: app "c": max_restarts: want a whole number, got "many"`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := write(t, dir, tt.file, tt.content)
			_, err := Load(path, Options{})
			if err == nil || err.Error() != path+tt.want {
				t.Fatalf("Load: %v, want %s", err, path+tt.want)
			}
		})
	}
}

// appError is a setting of app "web" in a YAML file and the error it
// must give, after the file's path.
type appError struct{ name, app, want string }

// checkAppErrors loads a file of app "web" with each setting and checks
// the error: its text, and that it names the app, its index and a key.
func checkAppErrors(t *testing.T, tests []appError) {
	t.Helper()
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, dir, "eco.yaml", "apps:\n  - name: web\n    "+tt.app+"\n    script: app.js\n")
			f, err := Load(path, Options{Environ: callerEnv})
			var e *Error
			if !errors.As(err, &e) || f != nil {
				t.Fatalf("Load = %v, %v; want an *Error and no file", f, err)
			}
			if got := strings.TrimPrefix(err.Error(), path+":"); got != tt.want {
				t.Fatalf("error\n %s\nwant\n %s", got, tt.want)
			}
			if e.App != "web" || e.Index != 1 || e.Key == "" {
				t.Fatalf("error fields %+v: want app web, index 1 and a key", e)
			}
		})
	}
}
