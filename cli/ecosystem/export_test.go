package ecosystem

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/appspec"
)

// project lays out a directory the testdata apps can run from: their
// scripts, and the interpreters they need on a PATH of their own. It
// returns the directory and that PATH.
func project(t *testing.T) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	for name, mode := range map[string]os.FileMode{
		"www/server.js":     0o644,
		"worker.py":         0o644,
		"bin/cron-task.sh":  0o755,
		"job.sh":            0o755,
		"tools/node":        0o755,
		"tools/python3":     0o755,
		"tools/bash":        0o755,
		"tools/sh":          0o755,
		"tools/long-runner": 0o755,
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir, filepath.Join(dir, "tools")
}

// resolve is what the daemon makes of a start request: its definition.
// The definition also carries what this build's appspec.Build may not
// copy yet (the user's arguments and directory, the interpreter chosen
// by the user, its arguments, the per-app settings).
func resolve(t *testing.T, req api.StartRequest, home string) api.Spec {
	t.Helper()
	spec, err := appspec.Build(req, appspec.Defaults{Home: home, MaxRestarts: 15, KillTimeout: 1600 * time.Millisecond})
	if err != nil {
		t.Fatalf("resolve %q: %v", req.Name, err)
	}
	spec.Args, spec.Dir, spec.InterpreterArgs, spec.Settings = req.Args, req.Dir, req.InterpreterArgs, req.Settings
	if req.Interpreter != "" {
		spec.Interpreter = req.Interpreter
	}
	return spec
}

// sameDefinition fails the test unless two definitions start the same
// process the same way. An empty kill signal is SIGTERM, opm's default.
func sameDefinition(t *testing.T, got, want api.Spec) {
	t.Helper()
	norm := func(s api.Spec) api.Spec {
		s.Env = slices.Sorted(slices.Values(s.Env))
		if s.KillSignal == "" {
			s.KillSignal = "SIGTERM"
		}
		s.Command, s.Dir = "", "" // as typed, and where from: the same Exec and Argv is what matters
		return s
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		gj, _ := json.MarshalIndent(g, "", " ")
		wj, _ := json.MarshalIndent(w, "", " ")
		t.Errorf("app %q:\n got  %s\n want %s", want.Name, gj, wj)
	}
}

// Export → Load round trip, for each format: the apps read back resolve
// to the same definitions (program, argv, cwd, environment, restart
// policy, limits, settings, kept PM2 keys), wherever the exported file
// is and whatever directory the originals were started from.
func TestExportRoundTrip(t *testing.T) {
	dir, tools := project(t)
	home := t.TempDir()
	src := write(t, dir, "apps.yaml", `apps:
  - name: web
    script: ./server.js
    args: --port 3000 --title "hello world"
    cwd: www
    max_restarts: 10
    min_uptime: 10s
    kill_timeout: 5000
    env:
      NODE_ENV: development
      PORT: 3000
      YES: "yes"
      ZEROS: "0123"
      NOTHING: ""
      NULLISH: "null"
      EQUALS: a=b
      LINES: "one\ntwo"
      UNICODE: "é ✓"
      QUOTES: "it's \"quoted\""
    watch: [src, lib]
    instances: 4
    max_memory_restart: 200M
    out_file: ./logs/out.log
    merge_logs: true
    cron_restart: "0 * * * *"
  - name: worker
    script: worker.py
    interpreter: python3
    interpreter_args: [-u, -X dev]
    autorestart: false
    restart_delay: 2000
    stop_exit_codes: [0, 3]
    kill_signal: SIGTERM
  - script: ./bin/cron-task.sh
    restart: on-failure
    exp_backoff_restart_delay: 100
    kill_signal: SIGUSR2
    env:
      DEBUG: true
  - name: plain
    script: long-runner --serve 8000
`)
	f, err := Load(src, Options{Environ: []string{"PATH=" + tools, "HOME=/root"}})
	if err != nil {
		t.Fatal(err)
	}
	var apps []api.App
	for _, a := range f.Apps {
		apps = append(apps, api.App{Name: a.Name, Spec: resolve(t, a.Request, home)})
	}
	// Apps started by hand from a directory that is not their cwd: a
	// relative script found from there, a command from PATH, a shell line.
	for _, req := range []api.StartRequest{
		{Name: "moved", Command: "./job.sh --fast", Args: []string{"x y"}, Dir: dir, Cwd: filepath.Join(dir, "www")},
		{Name: "bare", Command: "job.sh", Dir: dir, Cwd: "/"},
		{Name: "from-path", Command: "long-runner -m http.server 8000", Dir: dir, Cwd: filepath.Join(dir, "www")},
		{Name: "shell", Command: "long-runner | cat > out.log", Dir: dir, Cwd: filepath.Join(dir, "www")},
	} {
		req.Env = []string{"PATH=" + tools}
		apps = append(apps, api.App{Name: req.Name, Spec: resolve(t, req, home)})
	}

	for _, format := range []string{FormatYAML, FormatJSON, FormatTOML} {
		t.Run(format, func(t *testing.T) {
			out, err := Export(apps, format)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Export(apps, format)
			if err != nil || !bytes.Equal(out, again) {
				t.Fatalf("a second export differs (err %v):\n%s\n----\n%s", err, out, again)
			}
			path := write(t, t.TempDir(), "exported."+format, string(out))
			back, err := Load(path, Options{Environ: []string{}})
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if len(back.Apps) != len(apps) {
				t.Fatalf("read back %d apps, want %d:\n%s", len(back.Apps), len(apps), out)
			}
			for _, w := range back.Warnings {
				if !strings.Contains(w, "kept but not acted on") {
					t.Errorf("warning on reading an export back: %s", w)
				}
			}
			for i, a := range back.Apps {
				sameDefinition(t, resolve(t, a.Request, home), apps[i].Spec)
			}
			if t.Failed() {
				t.Logf("exported:\n%s", out)
			}
		})
	}
}

// What an ecosystem file cannot hold is an error naming the app, not a
// file that reads back as something else.
func TestExportRefuses(t *testing.T) {
	dir := t.TempDir()
	spaced := filepath.Join(dir, "my scripts")
	if err := os.MkdirAll(spaced, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, spaced, "run.sh", "#!/bin/sh\n")
	base := api.Spec{Name: "web", Command: "app.js", Cwd: "/srv", Restart: api.RestartAlways, MaxRestarts: 15}
	tests := []struct {
		name   string
		change func(*api.Spec)
		format string
		want   string
	}{
		{"bytes in env", func(s *api.Spec) { s.Env = []string{"A=\xff"} }, FormatYAML, `export app "web": its environment variable "A" is not UTF-8 text`},
		{"bytes in args", func(s *api.Spec) { s.Args = []string{"\xfe"} }, FormatJSON, `export app "web": its args are not all UTF-8 text`},
		{"script path with spaces", func(s *api.Spec) { s.Command, s.Dir = "./run.sh", spaced }, FormatTOML, `its script ./run.sh was found from ` + spaced},
		{"odd kept key", func(s *api.Spec) { s.Pending = map[string]json.RawMessage{"a,omitempty": json.RawMessage("1")} }, FormatJSON, `cannot write its kept setting "a,omitempty"`},
		{"format", func(*api.Spec) {}, "ini", `export: unknown format "ini" (use yaml, json or toml)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			tt.change(&s)
			_, err := Export([]api.App{{Spec: s}}, tt.format)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Export: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := Export(nil, FormatYAML); err == nil || !strings.Contains(err.Error(), "no apps to write") {
		t.Errorf("Export of no apps: %v, want an error", err)
	}
}

// An exported file is what a reader expects: apps in order, name and
// script first, the environment sorted, the kill signal written out.
func TestExportShape(t *testing.T) {
	apps := []api.App{{Spec: api.Spec{
		Name: "web", Command: "sleep 1000", Cwd: "/srv", Restart: api.RestartOnFailure, MaxRestarts: 3, KillTimeoutMs: 2000,
		Env:      []string{"ZED=1", "ALPHA=2"},
		Settings: api.Settings{Pending: map[string]json.RawMessage{"watch": json.RawMessage(`true`)}},
	}}}
	out, err := Export(apps, FormatYAML)
	if err != nil {
		t.Fatal(err)
	}
	want := `apps:
  - name: web
    script: sleep 1000
    cwd: /srv
    restart: on-failure
    max_restarts: 3
    kill_timeout: 2000
    kill_signal: SIGTERM
    watch: true
    env:
      ALPHA: "2"
      ZED: "1"
`
	if string(out) != want {
		t.Fatalf("export:\n%s\nwant:\n%s", out, want)
	}
}
