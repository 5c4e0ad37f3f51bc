package ecosystem

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"opm/daemon/testkit"
)

// JavaScript files of every shape PM2 reads: CommonJS, an ES module,
// a bare array, an apps export; what the file prints is not its answer;
// it sees the caller's environment.
func TestJSShapes(t *testing.T) {
	needNode(t)
	dir := t.TempDir()
	tests := []struct {
		name, file, content string
	}{
		{"module.exports", "a.config.js", `module.exports = {apps: [{name: 'web', script: 'a.js', env: {X: process.env.FROM_CALLER}}]};`},
		{"cjs array", "b.config.cjs", `console.log('loading'); console.error('still loading'); module.exports = [{name: 'web', script: 'a.js', env: {X: process.env.FROM_CALLER}}];`},
		{"export default", "c.config.mjs", `export default {apps: [{name: 'web', script: 'a.js', env: {X: process.env.FROM_CALLER}}]};`},
		{"export apps", "d.config.mjs", `export const apps = [{name: 'web', script: 'a.js', env: {X: process.env.FROM_CALLER}}];`},
		{"open handles", "e.config.js", `setInterval(() => {}, 1000); module.exports = {apps: [{name: 'web', script: 'a.js', env: {X: process.env.FROM_CALLER}}]};`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, dir, tt.file, tt.content)
			f, err := Load(path, Options{Environ: []string{"FROM_CALLER=yes"}, NodeTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Apps) != 1 || f.Apps[0].Name != "web" || !reflect.DeepEqual(f.Apps[0].Request.Env, []string{"FROM_CALLER=yes", "X=yes"}) {
				t.Fatalf("apps %+v", f.Apps)
			}
		})
	}
}

// A file that throws, cannot be parsed or exits is an *Error with node's
// message and, when node's stack names it, the line.
func TestJSErrors(t *testing.T) {
	needNode(t)
	dir := t.TempDir()
	tests := []struct {
		name, content string
		line          int
		want          string
	}{
		{"throws", "const url = process.env.NOPE;\nif (!url) throw new Error('DATABASE_URL is not set');\n", 2, "node could not load it: Error: DATABASE_URL is not set"},
		{"throws a string", "throw 'plain string';\n", 0, "node could not load it: plain string"},
		{"syntax", "module.exports = {\n  apps: [\n", 3, "node could not load it: SyntaxError: Unexpected end of input"},
		{"exits", "process.exit(0);\n", 0, "node exited before it gave the file's exports (does the file call process.exit?)"},
		{"exports nothing", "const a = 1;\n", 0, "no apps: export { apps: [...] }"},
		{"not JSON", "const a = {}; a.self = a; module.exports = {apps: [a]};\n", 0, "node could not load it: TypeError: Converting circular structure to JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, dir, "bad.config.js", tt.content)
			_, err := Load(path, Options{Environ: []string{}, NodeTimeout: 5 * time.Second})
			var e *Error
			if !errors.As(err, &e) || e.Line != tt.line || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load: %v (line %d); want an *Error on line %d containing %q", err, e.Line, tt.line, tt.want)
			}
		})
	}
}

// A file that never finishes is stopped after NodeTimeout: node and what
// the file started are killed, and nothing is left running.
func TestJSHangs(t *testing.T) {
	needNode(t)
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	path := write(t, dir, "hang.config.js", `const { spawn } = require('node:child_process');
const child = spawn('sleep', ['60'], { stdio: 'ignore' });
require('node:fs').writeFileSync(process.env.PIDS, process.pid + ' ' + child.pid);
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // blocks for ever, without spinning
`)
	const timeout = 1500 * time.Millisecond
	start := time.Now()
	_, err := Load(path, Options{Environ: []string{"PIDS=" + pids, "PATH=" + os.Getenv("PATH")}, NodeTimeout: timeout})
	took := time.Since(start)
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), "node did not finish reading the file within 1.5s, and was stopped") {
		t.Fatalf("Load: %v; want an *Error saying node was stopped", err)
	}
	if took < timeout || took > timeout+3*time.Second {
		t.Errorf("Load returned after %s, want about %s", took, timeout)
	}
	data, err := os.ReadFile(pids)
	if err != nil {
		t.Fatalf("the file never ran (node too slow to start within %s?): %v", timeout, err)
	}
	for _, field := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(field)
		if err != nil {
			t.Fatalf("pids file %q: %v", data, err)
		}
		waitGone(t, pid)
	}
}

// waitGone fails the test unless process pid ends (or is a zombie left
// for its new parent to reap) within a few seconds of being killed.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	testkit.WaitFor(t, fmt.Sprintf("process %d to end", pid), 3*time.Second, func() bool { return !testkit.Alive(pid) })
}

// Without node, a JavaScript file is an error that says how to convert
// it.
func TestJSWithoutNode(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Load(filepath.Join("testdata", "apps.config.js"), Options{})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Load: %v, want an *Error", err)
	}
	for _, want := range []string{
		"testdata/apps.config.js: ",
		"node is not installed (not found in PATH)",
		"opm start testdata/apps.config.js",
		"opm export --format yaml > ecosystem.yaml",
		"write ecosystem.yaml by hand",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
