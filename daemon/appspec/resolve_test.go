package appspec

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"opm/daemon/api"
)

func TestResolveCommand(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(path string, mode os.FileMode) {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"node", "python3", "bash", "sh", "tool"} {
		write(filepath.Join(bin, name), 0o755)
	}
	write(filepath.Join(dir, "app.js"), 0o644)
	write(filepath.Join(dir, "srv.py"), 0o644)
	write(filepath.Join(dir, "server"), 0o755)
	write(filepath.Join(dir, "data.txt"), 0o644)
	env := []string{"PATH=" + bin}

	cases := []struct {
		name, command string
		args          []string
		wantArgv      []string
		wantInterp    string
		wantErr       string
	}{
		{name: "js by node", command: "app.js", args: []string{"--port", "1"}, wantArgv: []string{bin + "/node", dir + "/app.js", "--port", "1"}, wantInterp: "node"},
		{name: "py by python3", command: "./srv.py", wantArgv: []string{bin + "/python3", dir + "/srv.py"}, wantInterp: "python3"},
		{name: "executable file", command: "server", wantArgv: []string{dir + "/server"}},
		{name: "command line split", command: "tool -m http.server 8000", wantArgv: []string{bin + "/tool", "-m", "http.server", "8000"}},
		{name: "shell syntax", command: "tool | tool > out", args: []string{"a"}, wantArgv: []string{bin + "/sh", "-c", `tool | tool > out "$@"`, "sh", "a"}},
		{name: "env assignment needs shell", command: "PORT=1 tool", wantArgv: []string{bin + "/sh", "-c", "PORT=1 tool"}},
		{name: "missing script", command: "./nope.js", wantErr: "not found"},
		{name: "missing command", command: "nope-xyz", wantErr: "not found"},
		{name: "not executable", command: "data.txt", wantErr: "not executable"},
		{name: "directory in cwd is no command", command: "bin", wantErr: "not found"},
		{name: "directory path", command: "./bin", wantErr: "is a directory"},
		{name: "empty", command: "  ", wantErr: "no script"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec, err := resolveCommand(c.command, c.args, dir, env, "", nil)
			if c.wantErr != "" {
				if err == nil || api.CodeOf(err) != api.CodeBadRequest || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want a bad_request error containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(spec.Argv, c.wantArgv) || spec.Exec != c.wantArgv[0] || spec.Interpreter != c.wantInterp {
				t.Fatalf("got exec %s argv %q interp %q, want argv %q interp %q", spec.Exec, spec.Argv, spec.Interpreter, c.wantArgv, c.wantInterp)
			}
		})
	}
}

// A default name is derived from the command and is always a valid name:
// what a name may not hold becomes '_'.
func TestDefaultName(t *testing.T) {
	for cmd, want := range map[string]string{
		"app.js":                   "app",
		"./dir/server":             "server",
		"python3 -m http.server 1": "python3",
		"./\u202eevil.js":          "_evil",
		"./bad\xffname":            "bad_name",
		"./zw\u200bname\u202e":     "zw_name_",
		"./caf\u00e9":              "caf\u00e9",
	} {
		spec := api.Spec{Command: cmd}
		if strings.HasSuffix(cmd, ".js") {
			spec.Interpreter, spec.Argv = "node", []string{"/usr/bin/node", "/x/" + cmd}
		}
		got := DefaultName(spec)
		if got != want {
			t.Errorf("DefaultName(%q) = %q, want %q", cmd, got, want)
		}
		if err := api.CheckName(got); err != nil {
			t.Errorf("DefaultName(%q) = %q, refused: %v", cmd, got, err)
		}
	}
}
