package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/testkit"
)

// `opm logs --follow` prints lines as the app writes them, also after the
// log was flushed, and ends cleanly on Ctrl-C.
func TestLogsFollow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startApp("talk", "crash-on-usr1")
	pid := e.waitLogPID("talk", "armed ", 1)
	if r := e.ok("logs", "talk", "--lines", "1"); r.stdout != fmt.Sprintf("talk | armed %d\n", pid) {
		t.Errorf("logs --lines 1 = %q", r.stdout)
	}

	cmd := exec.Command(os.Args[0], "logs", "talk", "--follow", "--lines", "1")
	cmd.Env = e.environ
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func(what string) string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("opm logs --follow ended while waiting for %s", what)
			}
			return l
		case <-time.After(15 * time.Second):
			t.Fatalf("opm logs --follow printed no %s", what)
		}
		return ""
	}
	if l := next("tail line"); l != fmt.Sprintf("talk | armed %d", pid) {
		t.Errorf("first line %q, want talk | armed %d", l, pid)
	}
	// A crash and restart write a new line.
	crash := func() int {
		t.Helper()
		if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		l := next("line from the restarted app")
		v, ok := strings.CutPrefix(l, "talk | armed ")
		var npid int
		if _, err := fmt.Sscan(v, &npid); !ok || err != nil || npid == pid {
			t.Fatalf("followed line %q, want talk | armed <new pid>", l)
		}
		return npid
	}
	pid = crash()
	// Flushed logs start again from the beginning.
	e.ok("flush", "talk")
	pid = crash()
	_ = pid

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("opm logs --follow after Ctrl-C: %v", err)
	}
}

// talkScript writes lines to stdout and stderr, the last out line with a
// tab and an escape sequence, and then waits.
const talkScript = `#!/bin/sh
printf 'out%s\n' 1 2 3 4
printf 'tab\there \033[1mbold\n'
printf 'err%s\n' 1 2 3 >&2
exec sleep 3600
`

// lastOut is talkScript's last out line as stored.
const lastOut = "tab\there \x1b[1mbold"

// startTalkers starts an app running talkScript for each name and waits
// until each has written all its lines.
func (e *env) startTalkers(names ...string) {
	e.t.Helper()
	script := filepath.Join(e.t.TempDir(), "talk.sh")
	if err := os.WriteFile(script, []byte(talkScript), 0o755); err != nil {
		e.t.Fatal(err)
	}
	for _, name := range names {
		e.ok("start", script, "--name", name)
		spec := e.app(name).Spec
		testkit.WaitFor(e.t, name+" to write its lines", 10*time.Second, func() bool {
			out, _ := os.ReadFile(spec.OutLog)
			errs, _ := os.ReadFile(spec.ErrLog)
			return strings.HasSuffix(string(out), lastOut+"\n") && strings.HasSuffix(string(errs), "err3\n")
		})
	}
}

// `opm logs web` prints the last lines of each log, out lines on stdout
// and err lines on stderr, each with the app's name, unprintable
// characters escaped but tabs; --out and --err pick one stream; --raw
// prints the lines as stored, without the name.
func TestLogsLinesStreamsRaw(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startTalkers("web")
	shown := "web | tab\there \\x1b[1mbold\n"
	for _, c := range []struct {
		args           []string
		stdout, stderr string
	}{
		{[]string{"--lines", "2"}, "web | out4\n" + shown, "web | err2\nweb | err3\n"},
		{nil, "web | out1\nweb | out2\nweb | out3\nweb | out4\n" + shown, "web | err1\nweb | err2\nweb | err3\n"},
		{[]string{"--lines", "0"}, "", ""},
		{[]string{"--out", "--lines", "1"}, shown, ""},
		{[]string{"--err", "-n", "1"}, "", "web | err3\n"},
		{[]string{"--raw", "--lines", "2"}, "out4\n" + lastOut + "\n", "err2\nerr3\n"},
	} {
		r := e.ok(append([]string{"logs", "web"}, c.args...)...)
		if r.stdout != c.stdout || r.stderr != c.stderr {
			t.Errorf("%v\nwant stdout %q and stderr %q", r, c.stdout, c.stderr)
		}
	}
}

// Without a target, `opm logs` prints the logs of every app, each line
// with its app's name; --json prints one object a line on stdout, out
// and err lines alike, with the app, the stream and the message (no time:
// these apps log without timestamps).
func TestLogsAllAppsAndJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startTalkers("a", "b")
	r := e.ok("logs", "--lines", "1")
	if want := "a | " + "tab\there \\x1b[1mbold\n" + "b | " + "tab\there \\x1b[1mbold\n"; r.stdout != want {
		t.Errorf("%v\nwant stdout %q", r, want)
	}
	if want := "a | err3\nb | err3\n"; r.stderr != want {
		t.Errorf("%v\nwant stderr %q", r, want)
	}

	r = e.ok("logs", "--json", "--lines", "1")
	if r.stderr != "" {
		t.Errorf("logs --json wrote to stderr: %q", r.stderr)
	}
	want := []map[string]string{
		{"app": "a", "stream": "out", "message": lastOut},
		{"app": "a", "stream": "err", "message": "err3"},
		{"app": "b", "stream": "out", "message": lastOut},
		{"app": "b", "stream": "err", "message": "err3"},
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("logs --json printed %d lines, want %d:\n%s", len(lines), len(want), r.stdout)
	}
	for i, l := range lines {
		var got map[string]string
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %d is not a JSON object of strings: %v\n%s", i, err, l)
		}
		if fmt.Sprint(got) != fmt.Sprint(want[i]) {
			t.Errorf("line %d = %v, want %v", i, got, want[i])
		}
		if strings.ContainsAny(l, "\t\x1b") {
			t.Errorf("line %d carries a control character raw: %q", i, l)
		}
	}
}

// Flags that contradict each other are bad usage, exit 2, with what to
// do instead.
func TestLogsBadFlags(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--out", "--err"}, "give one of them, or neither"},
		{[]string{"--json", "--raw"}, "drop one of them"},
		{[]string{"--json", "--timestamp"}, "drop --timestamp"},
		{[]string{"--raw", "--timestamp"}, "drop --timestamp"},
		{[]string{"--lines", "-1"}, "use 0 or more"},
	} {
		r := e.run(append([]string{"logs", "web"}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("%v\nwant exit 2 and %q", r, c.want)
		}
	}
}
