package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/proc"
	"opm/daemon/testkit"
)

// eventStream reads GET /v1/events of e's daemon into a channel.
type eventStream struct {
	t      *testing.T
	events chan api.Event
	cancel context.CancelFunc
}

func (e *env) events(since string) *eventStream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := http.Header{}
	if since != "" {
		h.Set(api.LastEventIDHeader, since)
	}
	body, err := e.client().Stream(ctx, api.PathEvents, h)
	if err != nil {
		cancel()
		e.t.Fatalf("GET %s: %v", api.PathEvents, err)
	}
	s := &eventStream{t: e.t, events: make(chan api.Event, 1024), cancel: cancel}
	e.t.Cleanup(func() { cancel(); body.Close() })
	go func() {
		defer close(s.events)
		_, err := api.ReadEvents(body, func(ev api.Event, _ []byte) { s.events <- ev })
		if err != nil && ctx.Err() == nil {
			panic(err)
		}
	}()
	return s
}

// next returns the next event of app (or of the daemon when app is "")
// of one of types, failing the test after within.
func (s *eventStream) next(app string, within time.Duration, types ...string) api.Event {
	s.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				s.t.Fatalf("event stream ended waiting for %s %v", app, types)
			}
			if ev.App != app {
				continue
			}
			for _, typ := range types {
				if ev.Type == typ {
					return ev
				}
			}
			s.t.Fatalf("want %s event %v, got %+v", app, types, ev)
		case <-deadline:
			s.t.Fatalf("no %s event %v within %s", app, types, within)
		}
	}
}

func TestEventStreamCrashRestart(t *testing.T) {
	e := newEnv(t)
	app := e.startApp("ev", "block")
	s := e.events("0") // replays the start
	start := s.next("ev", 10*time.Second, api.EventTypeStart)
	if start.PID != app.PID || start.Seq == 0 || start.Time.IsZero() || start.Name != "ev" {
		t.Fatalf("start event %+v, app pid %d", start, app.PID)
	}
	if err := syscall.Kill(app.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	exit := s.next("ev", 10*time.Second, api.EventTypeExit)
	if exit.PID != app.PID || exit.Signal != "SIGKILL" || exit.Code != nil {
		t.Fatalf("exit event %+v, want pid %d and SIGKILL", exit, app.PID)
	}
	restart := s.next("ev", 10*time.Second, api.EventTypeRestart)
	if restart.Reason != api.ReasonCrash || restart.PID != app.PID {
		t.Fatalf("restart event %+v", restart)
	}
	again := s.next("ev", 10*time.Second, api.EventTypeStart)
	if again.PID == 0 || again.PID == app.PID || again.PID != e.waitStatus("ev", "online", 10*time.Second).PID || again.Restarts != 1 {
		t.Fatalf("second start %+v", again)
	}
	if !(start.Seq < exit.Seq && exit.Seq < restart.Seq && restart.Seq < again.Seq) {
		t.Fatalf("events out of order: %d %d %d %d", start.Seq, exit.Seq, restart.Seq, again.Seq)
	}

	// A reader that comes back with the last id it saw gets what followed.
	r := e.events(strconv.FormatUint(start.Seq, 10))
	for _, want := range []api.Event{exit, restart, again} {
		if got := r.next("ev", 5*time.Second, want.Type); got.Seq != want.Seq || got.PID != want.PID {
			t.Fatalf("replay: got %+v, want %+v", got, want)
		}
	}
	// ?since= the same; and a bad id is refused, saying what to give.
	err := e.client().Do(context.Background(), "GET", api.PathEvents+"?since=x", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "not an event id") {
		t.Fatalf("since=x: %v", err)
	}
}

// A reader that never reads does not hold restarts back.
func TestEventStreamSlowReader(t *testing.T) {
	e := newEnv(t)
	app := e.startApp("ev", "block")
	c, err := net.Dial("unix", api.SocketPath(e.runtime))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.UnixConn).SetReadBuffer(1)
	if _, err := io.WriteString(c, "GET /v1/events?since=0 HTTP/1.1\r\nHost: opm\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	fast := e.events("")
	pid := app.PID
	for i := range 12 {
		began := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		ev := fast.next("ev", 10*time.Second, api.EventTypeExit, api.EventTypeRestart, api.EventTypeStart)
		for ev.Type != api.EventTypeStart {
			ev = fast.next("ev", 10*time.Second, api.EventTypeExit, api.EventTypeRestart, api.EventTypeStart)
		}
		if took := time.Since(began); took > 3*time.Second {
			t.Fatalf("restart %d took %s with a reader that does not read", i, took)
		}
		pid = ev.PID
	}
	// The slow reader still gets its events (or is told it lost some).
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	data, _ := io.ReadAll(io.LimitReader(c, 2048))
	if !strings.Contains(string(data), "event: start") && !strings.Contains(string(data), "event: lost") {
		t.Fatalf("the slow reader read:\n%s", data)
	}
}

// opmEvents runs `opm events` with args in the background; its stdout
// lines come on the channel.
func (e *env) opmEvents(args ...string) (*exec.Cmd, chan string, *testkit.SyncBuffer) {
	e.t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"events"}, args...)...)
	cmd.Env = e.environ
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	stderr := &testkit.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return cmd, lines, stderr
}

func nextLine(t *testing.T, lines chan string, within time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("opm events ended")
		}
		return l
	case <-time.After(within):
		t.Fatalf("no line from opm events within %s", within)
	}
	return ""
}

func TestOpmEventsJSON(t *testing.T) {
	e := newEnv(t)
	app := e.startApp("ev", "block")
	e.startApp("other", "block")
	cmd, lines, stderr := e.opmEvents("--json", "--since", "0", "ev")
	var ev api.Event
	if err := json.Unmarshal([]byte(nextLine(t, lines, 10*time.Second)), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != api.EventTypeStart || ev.App != "ev" || ev.PID != app.PID {
		t.Fatalf("first event %+v", ev)
	}
	if err := syscall.Kill(app.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var types []string
	for len(types) < 3 {
		l := nextLine(t, lines, 10*time.Second)
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if ev.App != "ev" {
			t.Fatalf("an event of another app: %s", l)
		}
		types = append(types, ev.Type)
	}
	if strings.Join(types, ",") != "exit,restart,start" {
		t.Fatalf("events %v", types)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("opm events after SIGINT: %v\n%s", err, stderr)
	}

	// Human lines; the daemon's going away ends it with status 1.
	cmd, lines, stderr = e.opmEvents("--since", "0", "ev")
	l := nextLine(t, lines, 10*time.Second)
	if f := strings.Fields(l); len(f) < 6 || f[2] != "ev" || f[3] != "start" || f[5] != strconv.Itoa(app.PID) {
		t.Fatalf("human line %q", l)
	}
	e.ok("daemon", "stop")
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "daemon went away") {
		t.Fatalf("opm events after the daemon stopped: %v\n%s", err, stderr)
	}
}

const hookConfig = fastConfig + `hook_timeout = "1s"
hook_retries = 2
hook_retry_delay = "50ms"
`

func TestCommandHookEnv(t *testing.T) {
	e := newEnvConfig(t, hookConfig)
	dir := t.TempDir()
	out := filepath.Join(dir, "exit.env")
	app := e.startApp("hk", "block", "--on-exit", "env | grep ^OPM_ > "+out+".tmp && mv "+out+".tmp "+out)
	if err := syscall.Kill(app.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var data []byte
	testkit.WaitFor(t, "the exit hook's file", 10*time.Second, func() bool {
		data, _ = os.ReadFile(out)
		return len(data) > 0
	})
	vars := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			vars[k] = v
		}
	}
	for k, want := range map[string]string{"OPM_EVENT": "exit", "OPM_APP": "hk", "OPM_PID": strconv.Itoa(app.PID), "OPM_SIGNAL": "SIGKILL", "OPM_EXIT_CODE": "", "OPM_REASON": ""} {
		if got, ok := vars[k]; !ok || got != want {
			t.Errorf("%s=%q, want %q (set: %v)", k, got, want, ok)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, vars["OPM_TIME"]); err != nil {
		t.Errorf("OPM_TIME: %v", err)
	}
	var ev api.Event
	if err := json.Unmarshal([]byte(vars["OPM_EVENT_JSON"]), &ev); err != nil || ev.PID != app.PID || ev.Type != "exit" {
		t.Errorf("OPM_EVENT_JSON %q: %v", vars["OPM_EVENT_JSON"], err)
	}
}

// posts is a loopback webhook receiver.
type posts struct {
	mu     sync.Mutex
	bodies []string
	status int
}

func (p *posts) server(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.bodies = append(p.bodies, r.Method+" "+r.URL.Path+" "+string(b))
		status := p.status
		p.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (p *posts) got() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.bodies...)
}

func TestURLHooks(t *testing.T) {
	var p posts
	srv := p.server(t)
	e := newEnvConfig(t, hookConfig+"[hooks]\non_restart = \""+srv.URL+"/restart\"\n")
	app := e.startApp("hk", "block", "--on-start", srv.URL+"/slack", "--webhook-format", "slack")
	testkit.WaitFor(t, "the slack start hook", 10*time.Second, func() bool { return len(p.got()) == 1 })
	var slack map[string]string
	method, rest, _ := strings.Cut(p.got()[0], " ")
	path, body, _ := strings.Cut(rest, " ")
	if err := json.Unmarshal([]byte(body), &slack); err != nil || method != "POST" || path != "/slack" ||
		!strings.HasPrefix(slack["text"], "opm: hk start (pid "+strconv.Itoa(app.PID)) || len(slack) != 1 {
		t.Fatalf("slack post %q: %v", p.got()[0], err)
	}
	if err := syscall.Kill(app.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var ev api.Event
	testkit.WaitFor(t, "the restart hook", 10*time.Second, func() bool {
		for _, b := range p.got() {
			if rest, ok := strings.CutPrefix(b, "POST /restart "); ok {
				return json.Unmarshal([]byte(rest), &ev) == nil
			}
		}
		return false
	})
	if ev.Type != api.EventTypeRestart || ev.Reason != api.ReasonCrash || ev.App != "hk" || ev.PID != app.PID || ev.Seq == 0 {
		t.Fatalf("restart hook got %+v", ev)
	}

	// Bad hooks are refused, saying what to do.
	r := e.run("start", os.Args[0], "--name", "bad", "--on-errored", "https://example.com/x")
	if r.code != 2 || !strings.Contains(r.stderr, "local relay") {
		t.Fatalf("https hook: %v", r)
	}
	r = e.run("start", os.Args[0], "--name", "bad", "--webhook-format", "teams")
	if r.code != 2 || !strings.Contains(r.stderr, "webhook_format must be") {
		t.Fatalf("bad format: %v", r)
	}
}

func TestURLHookRetries(t *testing.T) {
	p := posts{status: http.StatusInternalServerError}
	srv := p.server(t)
	e := newEnvConfig(t, hookConfig+"[hooks]\non_start = \""+srv.URL+"/x\"\n")
	e.startApp("hk", "block")
	testkit.WaitFor(t, "hook-failed in daemon.log", 10*time.Second, func() bool { return strings.Contains(e.daemonLog(), "event=hook-failed") })
	if n := len(p.got()); n != 3 {
		t.Fatalf("%d tries, want 1 + hook_retries (2)", n)
	}
	log := e.daemonLog()
	if strings.Count(log, "event=hook-failed") != 1 || !strings.Contains(log, "tries=3") || !strings.Contains(log, "500 Internal Server Error") {
		t.Fatalf("daemon.log:\n%s", log)
	}
}

// A hook that hangs is killed at its timeout, and never holds a restart.
func TestHangingHook(t *testing.T) {
	e := newEnvConfig(t, hookConfig)
	app := e.startApp("hk", "block", "--on-exit", "sleep 100")
	s := e.events("")
	pid := app.PID
	for range 2 {
		began := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		s.next("hk", 5*time.Second, api.EventTypeExit)
		s.next("hk", 5*time.Second, api.EventTypeRestart)
		pid = s.next("hk", 5*time.Second, api.EventTypeStart).PID
		if took := time.Since(began); took > 500*time.Millisecond {
			t.Fatalf("restart took %s while a hook hangs", took)
		}
	}
	testkit.WaitFor(t, "two timed-out hooks", 10*time.Second, func() bool {
		return strings.Count(e.daemonLog(), "timed out after 1s") == 2
	})
}

// With a stream open and nothing happening, the daemon sleeps.
func TestEventStreamIdle(t *testing.T) {
	if testing.Short() {
		t.Skip("measures up to 26 s of idleness")
	}
	e := newEnv(t)
	e.ok("daemon", "start")
	pid := e.daemonStatus().PID
	e.events("")
	// The window starts once the daemon's start-up has settled (the Go
	// runtime returns its start-up memory over some seconds): once a
	// second passes with at most one switch, or after 20 s, when the
	// window tells. No memory trim comes while the stream is open.
	testkit.Poll(20*time.Second, func() bool {
		before := ctxSwitches(t, pid)
		time.Sleep(time.Second)
		return ctxSwitches(t, pid)-before <= 1
	})
	before := ctxSwitches(t, pid)
	time.Sleep(5 * time.Second)
	if d := ctxSwitches(t, pid) - before; d > 1 {
		t.Fatalf("the daemon switched context %d times in 5 s with an idle event stream open", d)
	}
}

// ctxSwitches sums the voluntary context switches of pid's threads.
func ctxSwitches(t *testing.T, pid int) int {
	t.Helper()
	u, err := proc.ReadUsage(pid)
	if err != nil {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	return int(u.Voluntary)
}
