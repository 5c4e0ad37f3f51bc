package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opm/daemon/api"
	"opm/daemon/testkit"
	"opm/shm"
)

// Another local user creates the victim's default runtime directory
// before the victim's first opm command, with a fake daemon on its socket.
// The victim's opm sends that server nothing (a start request carries the
// user's environment), is not locked out either: it moves to a runtime dir
// the other user cannot take — an unpredictable name in /dev/shm, the same
// whether XDG_RUNTIME_DIR is set or not (a login shell and cron differ) —
// and says so in `opm daemon status` and daemon.log. Its apps run, and
// `opm save` really saves.
func TestSquattedRuntimeDir(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mode os.FileMode
		xdg  bool
	}{
		{"open squat, XDG_RUNTIME_DIR", 0o755, true},
		{"closed squat, XDG_RUNTIME_DIR", 0o700, true},
		{"open squat, no XDG_RUNTIME_DIR", 0o755, false},
		{"closed squat, no XDG_RUNTIME_DIR", 0o700, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := os.Stat("/dev/shm"); err != nil {
				t.Skip("needs /dev/shm")
			}
			// Cleanups run last in, first out: the directories go after
			// the harness has stopped the daemon.
			xdg := ""
			if tc.xdg {
				xdg = testkit.ShortTempDir(t)
			}
			var def string
			t.Cleanup(func() { os.RemoveAll(def) })
			e := newEnv(t)
			in := testkit.NewIntruder(t)
			// No OPM_RUNTIME_DIR: the default, derived from the test's
			// home, is under /dev/shm.
			e.environ = testkit.WithoutEnv(e.environ, "OPM_RUNTIME_DIR", "XDG_RUNTIME_DIR")
			if tc.xdg {
				e.environ = append(e.environ, "XDG_RUNTIME_DIR="+xdg)
			}
			def = shm.DefaultRuntimeDir(e.home)
			fake := testkit.StartFakeServer(t, in, def, tc.mode)

			const secret = "SECRET_TOKEN=hunter2-do-not-leak"
			r := e.run("start", os.Args[0], "--name", "victim", "--env", "OPM_TEST_CHILD=print-env", "--env", secret)
			if r.code != 0 {
				t.Fatalf("start with a squatted runtime dir: %v", r)
			}
			var st api.DaemonStatus
			if err := json.Unmarshal([]byte(e.ok("daemon", "status", "--json").stdout), &st); err != nil {
				t.Fatal(err)
			}
			os.Remove(e.runtime)      // the harness's, unused here
			e.runtime = st.RuntimeDir // for the harness: API calls, cleanup
			t.Logf("fallback %s; notes %q", st.RuntimeDir, st.Notes)
			if st.RuntimeDir == def || filepath.Dir(st.RuntimeDir) != "/dev/shm" {
				t.Errorf("runtime dir %s, want another name than %s in /dev/shm", st.RuntimeDir, def)
			}
			// A command from a session without (or with another)
			// XDG_RUNTIME_DIR finds the same daemon.
			other := e.runWith([]string{"XDG_RUNTIME_DIR="}, "daemon", "status", "--json")
			var st2 api.DaemonStatus
			if err := json.Unmarshal([]byte(other.stdout), &st2); err != nil || st2.PID != st.PID {
				t.Errorf("from a session without XDG_RUNTIME_DIR: %v; want the daemon %d", other, st.PID)
			}
			squatter := fmt.Sprintf("uid %d", in.UID)
			if len(st.Notes) != 1 || !strings.Contains(st.Notes[0], def) || !strings.Contains(st.Notes[0], squatter) || !strings.Contains(st.Notes[0], st.RuntimeDir) {
				t.Errorf("daemon status notes %q, want one naming %s, %s and %s", st.Notes, def, squatter, st.RuntimeDir)
			}
			if !strings.Contains(r.stderr, "warning") || !strings.Contains(r.stderr, def) {
				t.Errorf("the start that started the daemon did not warn:\n%s", r.stderr)
			}
			if out := e.ok("daemon", "status").stdout; !strings.Contains(out, "warning") || !strings.Contains(out, def) || !strings.Contains(out, st.RuntimeDir) {
				t.Errorf("opm daemon status does not say what happened:\n%s", out)
			}
			e.ok("save")
			if dump, err := os.ReadFile(filepath.Join(e.home, api.DumpName)); err != nil || !strings.Contains(string(dump), `"victim"`) {
				t.Errorf("opm save did not write the app to the dump: %v\n%s", err, dump)
			}
			if conns, got := fake.Stop(t); got != "" {
				t.Errorf("the squatter's server received %d bytes on %d connections: %q", len(got), conns, got)
			}

			app := e.waitStatus("victim", api.StatusOnline, cmdTimeout)
			if env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", app.PID)); err != nil || !strings.Contains(string(env), secret) {
				t.Errorf("the app (pid %d) does not run with its environment (%v)", app.PID, err)
			}
			log, err := os.ReadFile(filepath.Join(e.home, api.DaemonLogName))
			if err != nil || !strings.Contains(string(log), "level=WARN") || !strings.Contains(string(log), def) {
				t.Errorf("daemon.log does not warn about %s: %v\n%s", def, err, log)
			}
		})
	}
}

// A squatted OPM_RUNTIME_DIR is refused with a clear error: the user chose
// it, so there is no fallback, and nothing is sent to the server in it.
func TestSquattedExplicitRuntimeDir(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := testkit.NewIntruder(t)
	dir := filepath.Join(os.TempDir(), "opmsquat-"+testkit.RandomHex(6))
	t.Cleanup(func() { os.RemoveAll(dir) })
	fake := testkit.StartFakeServer(t, in, dir, 0o755)
	own := e.environ
	t.Cleanup(func() { e.environ = own }) // for the harness's cleanup
	e.environ = append(testkit.WithoutEnv(e.environ, "OPM_RUNTIME_DIR"), "OPM_RUNTIME_DIR="+dir)

	r := e.run("start", os.Args[0], "--name", "victim", "--env", "OPM_TEST_CHILD=block", "--env", "SECRET_TOKEN=hunter2")
	t.Logf("%s", r.stderr)
	if r.code != 1 {
		t.Errorf("start with a squatted OPM_RUNTIME_DIR: %v", r)
	}
	for _, w := range []string{"OPM_RUNTIME_DIR " + dir, fmt.Sprintf("uid %d", in.UID), "unset"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("the error does not say %q:\n%s", w, r.stderr)
		}
	}
	if d := e.daemons(); len(d) != 0 {
		t.Errorf("daemons %v started in another user's directory", d)
	}
	if conns, got := fake.Stop(t); got != "" || conns != 0 {
		t.Errorf("the squatter's server received %d bytes on %d connections: %q", len(got), conns, got)
	}
}

// The API client checks who answers before it sends anything: a server of
// another user gets a connection and not one byte, and the request fails
// with an error naming that user.
func TestClientChecksServerUID(t *testing.T) {
	t.Parallel()
	in := testkit.NewIntruder(t)
	dir := filepath.Join(os.TempDir(), "opmfake-"+testkit.RandomHex(6))
	t.Cleanup(func() { os.RemoveAll(dir) })
	fake := testkit.StartFakeServer(t, in, dir, 0o755)

	cl := api.NewClient(api.SocketPath(dir))
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	req := api.StartRequest{Command: "true", Cwd: "/", Env: []string{"SECRET_TOKEN=hunter2"}}
	err := cl.Do(ctx, http.MethodPost, api.PathApps, req, nil)
	t.Logf("%v", err)
	var pe *api.PeerError
	if !errors.As(err, &pe) || pe.UID != in.UID {
		t.Errorf("request to another user's server: %v, want a refusal naming uid %d", err, in.UID)
	}
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("uid %d", in.UID)) {
		t.Errorf("the error does not name uid %d: %v", in.UID, err)
	}
	if errors.Is(err, api.ErrUnreachable) {
		t.Errorf("a foreign server is reported as no daemon (a CLI would start one): %v", err)
	}
	conns, got := fake.Stop(t)
	if got != "" {
		t.Errorf("the other user's server received %q", got)
	}
	if conns == 0 {
		t.Errorf("the client never connected: the test proves nothing")
	}
}
