package daemon

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// Apps are started, listed, stopped and removed by id, name, list and
// "all"; ids are never reused, and names are unique.
func TestStartListStopRemove(t *testing.T) {
	d := startDaemon(t)
	a := d.start("web", "block")
	if a.Status != api.StatusOnline || a.PID <= 0 || a.ID != 0 {
		t.Fatalf("started app = %+v, want online with a pid and id 0", a)
	}
	b := d.start("worker", "block")
	if b.ID != 1 {
		t.Fatalf("second app id = %d, want 1", b.ID)
	}
	if !testkit.Alive(a.PID) || !testkit.Alive(b.PID) {
		t.Fatal("app processes are not running")
	}

	if _, err := d.startReq(d.req("web", "block")); apiCode(err) != api.CodeConflict {
		t.Fatalf("duplicate name: err = %v, want code conflict", err)
	}
	if _, err := d.action("nope", "stop"); apiCode(err) != api.CodeNotFound || !strings.Contains(err.Error(), `no app named "nope" (see 'opm list')`) {
		t.Fatalf("unknown target: err = %v", err)
	}

	apps, err := d.action("web", "stop")
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 || apps[0].Status != api.StatusStopped || apps[0].PID != 0 {
		t.Fatalf("stop answered %+v, want web stopped", apps)
	}
	if testkit.Alive(a.PID) {
		t.Fatal("web's process survived its stop")
	}

	// Removing app 0 does not renumber app 1; a new app gets id 2.
	var removed []api.App
	if err := d.cl.Do(context.Background(), http.MethodDelete, api.TargetPath("0"), nil, &removed); err != nil {
		t.Fatal(err)
	}
	c := d.start("web", "block")
	if c.ID != 2 {
		t.Fatalf("new app id = %d, want 2 (ids are never reused)", c.ID)
	}
	list := d.list()
	if len(list) != 2 || list[0].ID != 1 || list[1].ID != 2 {
		t.Fatalf("list = %+v, want ids 1 and 2", list)
	}
	for _, a := range list {
		if a.Status != api.StatusOnline {
			t.Errorf("app %s: status %s, want online", a.Name, a.Status)
		}
		// The kernel's RSS counter of a process that just exec'd may
		// still read 0; it catches up.
		d.waitApp(a.Name, "to report memory", func(a api.App) bool { return a.Memory > 0 })
	}

	apps, err = d.action("all", "stop")
	if err != nil || len(apps) != 2 {
		t.Fatalf("stop all = %+v, %v", apps, err)
	}
	apps, err = d.action("1,web", "start")
	if err != nil || len(apps) != 2 || apps[0].Status != api.StatusOnline || apps[1].Status != api.StatusOnline {
		t.Fatalf("start 1,web = %+v, %v", apps, err)
	}
}

// A start the daemon cannot carry out is refused with a message that says
// why, and registers nothing.
func TestStartErrors(t *testing.T) {
	d := startDaemon(t)
	d.file("app.js", "1\n")
	cases := []struct {
		name string
		req  api.StartRequest
		want string
	}{
		{"missing script", api.StartRequest{Command: "./nope.js", Cwd: d.home}, "not found"},
		{"missing command", api.StartRequest{Command: "no-such-program-xyz --flag", Cwd: d.home}, "not found in"},
		{"missing interpreter", api.StartRequest{Command: "app.js", Cwd: d.home, Env: []string{"PATH=" + d.home}}, `interpreter "node" not found`},
		{"bad cwd", api.StartRequest{Command: "true", Cwd: "/nonexistent-dir"}, "does not exist"},
		{"bad policy", api.StartRequest{Command: "true", Cwd: d.home, Restart: "sometimes"}, "unknown restart policy"},
		{"reserved name", api.StartRequest{Command: "true", Cwd: d.home, Name: "all"}, "reserved"},
		{"numeric name", api.StartRequest{Command: "true", Cwd: d.home, Name: "42"}, "mistaken for an id"},
		// Whatever client sent them: api.CheckName has every case.
		{"bidi name", api.StartRequest{Command: "true", Cwd: d.home, Name: "\u202ebew"}, "U+202E"},
		{"name of invalid UTF-8", api.StartRequest{Command: "true", Cwd: d.home, Name: "web\xff"}, "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := d.startReq(c.req)
			if apiCode(err) != api.CodeBadRequest || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want bad_request containing %q", err, c.want)
			}
		})
	}
	if n := len(d.list()); n != 0 {
		t.Fatalf("%d apps registered after failed starts", n)
	}
	// Printable names in any script are fine.
	if a, err := d.startReq(d.req("café-日本", "block")); err != nil || a.Name != "café-日本" {
		t.Fatalf("start café-日本: %+v, %v", a, err)
	}
}

// A script runs under its interpreter, and a command line with shell
// syntax under the shell.
func TestShellScriptAndCommandLine(t *testing.T) {
	d := startDaemon(t)
	script := d.file("hello.sh", "echo hello from $0 \"$1\"\n")
	a, err := d.startReq(api.StartRequest{Command: "hello.sh", Args: []string{"arg1"}, Cwd: d.home, Env: os.Environ(), Restart: api.RestartNever})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "hello" || a.Spec.Interpreter != "bash" {
		t.Fatalf("app = %+v, want name hello run by bash", a)
	}
	d.waitStatus("hello", api.StatusStopped)
	if got := readFile(t, a.Spec.OutLog); !strings.Contains(got, "hello from "+script+" arg1") {
		t.Fatalf("out log = %q", got)
	}

	b, err := d.startReq(api.StartRequest{Command: "echo piped | tr a-z A-Z", Name: "pipe", Cwd: d.home, Env: os.Environ(), Restart: api.RestartNever})
	if err != nil {
		t.Fatal(err)
	}
	d.waitStatus("pipe", api.StatusStopped)
	if got := readFile(t, b.Spec.OutLog); got != "PIPED\n" {
		t.Fatalf("shell line output = %q", got)
	}
}
