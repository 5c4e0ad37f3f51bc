package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// Flags typed after the positional argument work as PM2 users expect, and
// reach the app's definition.
func TestFlagsAfterPositionals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("start", os.Args[0], "--name", "web", "--env", "OPM_TEST_CHILD=block", "--restart", "never", "--max-restarts", "3", "--kill-timeout", "300ms")
	web := e.app("web")
	if s := web.Spec; web.Status != api.StatusOnline || s.Restart != api.RestartNever || s.MaxRestarts != 3 || s.KillTimeoutMs != 300 {
		t.Fatalf("web = %+v, want online with restart never, 3 restarts at most, a kill timeout of 300 ms", web)
	}
	for _, args := range [][]string{
		{"info", "web", "--json"},
		{"info", "--json", "web"},
		{"describe", "web", "--json"},
	} {
		r := e.ok(args...)
		var apps []api.App
		if err := json.Unmarshal([]byte(r.stdout), &apps); err != nil || len(apps) != 1 || apps[0].Name != "web" {
			t.Errorf("opm %v: %v %+v\n%s", args, err, apps, r.stdout)
		}
	}
	// Arguments after "--" go to the app untouched, flags among them too.
	e.ok("start", os.Args[0], "--name", "args", "--env", "OPM_TEST_CHILD=block", "--", "--name", "x", "-e")
	if got := e.app("args").Spec.Argv; len(got) < 3 || !equalTail(got, []string{"--name", "x", "-e"}) {
		t.Errorf("argv = %q, want it to end with --name x -e", got)
	}
}

func equalTail(s, tail []string) bool {
	if len(s) < len(tail) {
		return false
	}
	for i, v := range tail {
		if s[len(s)-len(tail)+i] != v {
			return false
		}
	}
	return true
}

// Bad input exits 2 (or 1 for failures that are not typos) with a message
// on stderr that says what to do.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startApp("web", "block")
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"missing target", []string{"stop"}, 2, "needs a target"},
		{"missing script", []string{"start"}, 2, "needs a script"},
		{"unknown target", []string{"stop", "nope"}, 2, "opm list"},
		{"unknown id", []string{"restart", "99"}, 2, "opm list"},
		{"start unknown id", []string{"start", "99"}, 2, "opm list"},
		{"bad int flag", []string{"start", "app.js", "--max-restarts", "many"}, 2, "--help"},
		{"bad restart policy", []string{"start", "app.js", "--restart", "sometimes"}, 2, "always, on-failure or never"},
		{"bad env", []string{"start", "app.js", "--env", "NOEQUALS"}, 2, "KEY=VALUE"},
		{"bad kill timeout", []string{"start", "app.js", "--kill-timeout", "soon"}, 2, "kill-timeout"},
		{"unknown flag", []string{"list", "--bogus"}, 2, "--help"},
		{"PM2 flag not supported", []string{"start", "app.js", "--no-treekill"}, 2, "--help"},
		{"max-memory not supported", []string{"start", "app.js", "--max-memory", "200M"}, 2, "--help"},
		{"missing script file", []string{"start", "/nonexistent/app.js"}, 2, "app.js"},
		{"duplicate name", []string{"start", os.Args[0], "--name", "web"}, 1, "web"},
		{"extra argument", []string{"list", "extra"}, 2, "takes no arguments"},
		{"daemon unknown", []string{"daemon", "frob"}, 2, "start, stop, status or restart"},
		{"completion shell", []string{"completion", "fish"}, 2, "bash or zsh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.run(tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\n%v", r.code, tt.code, r)
			}
			if !strings.HasPrefix(r.stderr, "opm: ") || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr %q, want \"opm: ...%s...\"", r.stderr, tt.want)
			}
			if strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("stderr has more than one line: %q", r.stderr)
			}
		})
	}
	if got := e.list(); len(got) != 1 {
		t.Errorf("bad input changed the app table: %+v", got)
	}
}

// The app gets the caller's environment plus --env, and runs in --cwd or
// the caller's directory; `opm env` shows what it got.
func TestStartEnvironmentAndCwd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	r := e.runWith([]string{"CALLER_VAR=from-caller", "OVERRIDDEN=old"},
		"start", os.Args[0], "--name", "envy", "--cwd", dir,
		"--env", "OPM_TEST_CHILD=print-env", "--env", "OVERRIDDEN=new", "--env", "EXTRA=a=b")
	if r.code != 0 {
		t.Fatal(r)
	}
	var out string
	testkit.WaitFor(t, "the app to print its environment", 10*time.Second, func() bool {
		out = e.ok("logs", "envy", "--lines", "1000").stdout
		return strings.Contains(out, "OPM_TEST_CHILD=print-env")
	})
	for _, want := range []string{"cwd=" + dir, "CALLER_VAR=from-caller", "OVERRIDDEN=new", "EXTRA=a=b", e.mark} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("app output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "OVERRIDDEN=old") {
		t.Errorf("the override did not replace the caller's value:\n%s", out)
	}
	env := e.ok("env", "envy").stdout
	for _, want := range []string{"CALLER_VAR=from-caller", "OVERRIDDEN=new", "EXTRA=a=b"} {
		if !strings.Contains(env, want+"\n") {
			t.Errorf("opm env lacks %q:\n%s", want, env)
		}
	}
	// Without --cwd the app runs in the caller's directory.
	e.ok("start", os.Args[0], "--name", "here", "--env", "OPM_TEST_CHILD=block")
	wd, _ := os.Getwd()
	if got := e.app("here").Spec.Cwd; got != wd {
		t.Errorf("cwd = %s, want the caller's %s", got, wd)
	}
}

// `opm list --json` is an array of objects with the documented fields,
// numbers as numbers; the table has no colour when not on a terminal.
func TestListOutput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if r := e.ok("list", "--json"); r.stdout != "[]\n" {
		t.Errorf("empty list --json = %q, want one line: []", r.stdout)
	}
	e.startApp("one", "block")
	e.startApp("two", "exit0", "--restart", "never")
	e.waitStatus("two", api.StatusStopped, 10*time.Second)
	r := e.ok("ls", "--json")
	if strings.Count(r.stdout, "\n") != 1 || !strings.HasSuffix(r.stdout, "]\n") {
		t.Errorf("list --json is not one line of JSON: %q", r.stdout)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want 2", len(rows))
	}
	for _, row := range rows {
		for _, k := range []string{"id", "pid", "restarts", "uptime_ms", "cpu", "memory"} {
			if _, ok := row[k].(float64); !ok {
				t.Errorf("%s = %#v (%T), want a JSON number", k, row[k], row[k])
			}
		}
		for _, k := range []string{"name", "status", "command"} {
			if _, ok := row[k].(string); !ok {
				t.Errorf("%s = %#v, want a string", k, row[k])
			}
		}
	}
	one := e.app("one")
	if one.PID <= 0 || !testkit.Alive(one.PID) || one.Memory == 0 {
		t.Errorf("one = %+v, want a live pid and its memory", one)
	}
	if two := e.app("two"); two.PID != 0 {
		t.Errorf("stopped app has pid %d, want 0", two.PID)
	}
	for _, extra := range [][]string{nil, {"NO_COLOR=1"}} {
		table := e.runWith(extra, "list")
		if table.code != 0 || strings.Contains(table.stdout, "\x1b[") {
			t.Errorf("table with %v: exit %d, escape codes: %q", extra, table.code, table.stdout)
		}
		for _, want := range []string{"one", "two", "online", "stopped", "RESTARTS", "MEMORY"} {
			if !strings.Contains(table.stdout, want) {
				t.Errorf("table lacks %q:\n%s", want, table.stdout)
			}
		}
	}
}

func TestVersionAndCompletion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if r := e.ok("version"); !strings.Contains(r.stdout, api.Version) {
		t.Errorf("version = %q", r.stdout)
	}
	for _, sh := range []string{"bash", "zsh"} {
		if r := e.ok("completion", sh); !strings.Contains(r.stdout, "generate-bash-completion") || !strings.Contains(r.stdout, "opm") {
			t.Errorf("completion %s = %q", sh, r.stdout)
		}
	}
	if r := e.ok("--generate-bash-completion"); !strings.Contains(r.stdout, "start") || !strings.Contains(r.stdout, "list") {
		t.Errorf("completion of commands = %q", r.stdout)
	}
	if len(e.marked()) != 0 {
		t.Errorf("version or completion started a daemon")
	}
}
