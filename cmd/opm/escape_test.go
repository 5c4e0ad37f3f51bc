package main

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// What opm prints never carries what a terminal would act on: a command,
// argument or environment value holding an escape sequence, a carriage
// return or a bidi override prints escaped in list, info and env, the
// --json forms keep the exact value, and a value with a newline cannot
// forge a line of `opm env`.
func TestOutputEscapesUnprintable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The '[' makes this a shell command line: the shell runs the test
	// binary with the words as arguments.
	command := os.Args[0] + " \x1b[31mred \rcr \u202eevil"
	arg := "arg\x1b]0;title\a\u0085"
	e.ok("start", command, "--name", "evil", "--env", "OPM_TEST_CHILD=block",
		"--env", "EVIL=\x1b[31m\r\u202e", "--env", "FORGE=ok\nINJECTED=1", "--", arg)

	for _, args := range [][]string{{"list"}, {"info", "evil"}, {"env", "evil"}, {"list", "--json"}, {"info", "evil", "--json"}} {
		r := e.ok(args...)
		for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
			if !printable(line) {
				t.Errorf("opm %s printed %q", strings.Join(args, " "), line)
			}
		}
	}

	info := e.ok("info", "evil").stdout
	for _, want := range []string{`\x1b[31mred \rcr \u202eevil`, `arg\x1b]0;title\a\u0085`} {
		if !strings.Contains(info, want) {
			t.Errorf("opm info lacks %s:\n%s", want, info)
		}
	}

	env := strings.Split(e.ok("env", "evil").stdout, "\n")
	for _, want := range []string{`EVIL=\x1b[31m\r\u202e`, `FORGE=ok\nINJECTED=1`} {
		if !slices.Contains(env, want) {
			t.Errorf("opm env lacks the line %s:\n%s", want, strings.Join(env, "\n"))
		}
	}
	for _, line := range env {
		if strings.HasPrefix(line, "INJECTED=") {
			t.Errorf("a value with a newline forged the line %q", line)
		}
	}

	// --json keeps the exact values.
	apps := decodeApps(t, e.ok("list", "--json").stdout)
	if len(apps) != 1 || apps[0].Command != command {
		t.Errorf("list --json: command %q, want %q", apps[0].Command, command)
	}
	full := decodeApps(t, e.ok("info", "evil", "--json").stdout)
	if s := full[0].Spec; !slices.Contains(s.Argv, arg) || !slices.Contains(s.Env, "FORGE=ok\nINJECTED=1") {
		t.Errorf("info --json: argv %q, env lacks FORGE", s.Argv)
	}
}

// The last line, "opm: <error>", quotes what the user typed escaped.
func TestErrorLineEscaped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.run("start", "sleep 60", "--cwd", "/nonexistent/\x1b[31m\u202e\r")
	if r.code != 2 || !strings.HasPrefix(r.stderr, "opm: ") || !strings.Contains(r.stderr, `/nonexistent/\x1b[31m\u202e\r`) {
		t.Errorf("want exit 2 and the --cwd escaped; %v", r)
	}
	if strings.Count(r.stderr, "\n") != 1 || !printable(strings.TrimSuffix(r.stderr, "\n")) {
		t.Errorf("stderr is not one printable line: %q", r.stderr)
	}
}
