package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	ucli "github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"opm/cli/ecosystem"
	"opm/daemon/api"
	"opm/daemon/logs"
	"opm/daemon/process"
	"opm/daemon/store"
	"opm/shm"
)

func (a *App) runCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "run",
		Usage:     "run opm as a container's main process: the daemon in the foreground, the apps' logs on its output (PM2's pm2-runtime)",
		ArgsUsage: "[<ecosystem file>] [--restore]",
		Description: `Runs the daemon in this process, not in the background, starts the apps
of the ecosystem file (as 'opm start <file>' does; --only and --env pick
apps and an environment of it) or, with --restore, the saved ones (as
'opm restore' does, exactly once even beside other restores), or both
(the saved apps first), and prints every app's log lines as they come:
its stdout on standard output, its stderr on standard error, each line
after "<name> | " ("web:1 | " for an instance), or as stored with --raw,
or one JSON object a line with --json (as 'opm logs --json'), apps
started later too. The table of the file's apps goes to standard error.
One of a file or --restore is needed: a container whose command lost its
argument fails at once rather than run nothing.

'opm list', 'opm logs' and every other command work from another shell
(docker exec) as usual.

SIGTERM or SIGINT stops every app (its kill signal, then SIGKILL after
its kill timeout) and ends 'opm run'; a second SIGTERM or SIGINT kills
the apps at once (SIGKILL to each app's process group). 'opm daemon
stop' and 'opm daemon restart' are refused: stop the container, or send
SIGTERM to 'opm run'. SIGHUP is ignored; a closed standard output (opm
run | head) stops the printing of the apps' lines, not the apps. The
exit status is 0 when the apps were stopped, 1 when the daemon failed,
could not start (another one runs for this OPM_HOME), the file's apps or
the restore failed, or an app was errored (had given up restarting) when
the stop began, 2 for bad usage. Only --restore restores: the config's
restore_on_start does not apply.

As PID 1 it reaps the orphaned processes of the container; elsewhere it
makes itself a child subreaper, so that the orphans of its apps come to
it, and reaps them.`,
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "restore", Usage: "start the saved apps (opm save) once the daemon serves"},
			onlyFlag,
			&ucli.GenericFlag{Name: "env", Value: &envFlag{}, Usage: "with an ecosystem file: apply its env_NAME (--env `NAME`), or set K=V in every app's environment (repeatable)"},
			&ucli.BoolFlag{Name: "raw", Usage: "print log lines exactly as stored, without the app's name"},
			&ucli.BoolFlag{Name: "json", Usage: "print one JSON object a log line: app, stream, time, message"},
		},
		Action: a.runForeground,
	}
}

// runForeground is `opm run`.
func (a *App) runForeground(c *ucli.Context) error {
	args := positionals(c)
	restore := c.Bool("restore")
	switch {
	case len(afterDashes(c)) > 0:
		return usageErrorf("opm run takes no arguments after '--': set each app's args in the ecosystem file")
	case len(args) > 1:
		return usageErrorf("opm run takes one ecosystem file, got %d: %s", len(args), strings.Join(escapeEach(args), " "))
	case len(args) == 1 && !fileArg(args[0], false):
		return usageErrorf("opm run starts the apps of an ecosystem file (ecosystem.config.js, .json, .yaml, .toml), and %q is none: write one (apps: [{name: web, script: app.js}]), or use --restore", args[0])
	case len(args) == 0 && !restore:
		return usageErrorf("opm run needs an ecosystem file to start (opm run ecosystem.yaml), or --restore to start the saved apps (see 'opm run --help')")
	case len(args) == 0 && (c.IsSet("only") || c.IsSet("env")):
		return usageErrorf("--only and --env pick the apps and the environment of an ecosystem file: give one")
	}
	opts := logOptions{raw: c.Bool("raw"), json: c.Bool("json")}
	if err := checkLogFlags(false, false, opts); err != nil {
		return err
	}
	if a.opts.RunDaemon == nil {
		return errors.New("this opm binary was built without a daemon")
	}
	// Every call this command makes goes to its own daemon: it never
	// starts one in the background.
	a.conn.noSpawn = true
	var file *ecosystem.File
	if len(args) == 1 {
		// A file that cannot be used stops everything before the
		// daemon starts: nothing is restored, nothing started. It is
		// loaded once (a .config.js runs node).
		f, err := a.loadFile(c, args[0], true)
		if err != nil {
			return err
		}
		file = f
	}
	p, _, err := a.conn.resolve()
	if err != nil {
		return err
	}
	if _, other, err := a.conn.running(c.Context); err == nil {
		return failuref("another opm daemon (pid %d) runs for this OPM_HOME, and opm run runs its own: stop that one first ('opm daemon stop'), or give opm run its own OPM_HOME", other.PID)
	}
	// SIGHUP is ignored; the daemon absorbs it too once it runs.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)
	// A write to a closed pipe (opm run | head) fails with EPIPE rather
	// than kill opm run, and with it the daemon: the apps' lines stop
	// being printed, the apps stay supervised. Handled, not ignored:
	// the apps start with SIGPIPE's default.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	// The first SIGTERM or SIGINT stops the daemon (ctx, and its own
	// handler); a second one kills the apps.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	reaper, err := process.StartReaper(func(msg string) { fmt.Fprintf(a.errOut(), "opm: warning: %s\n", msg) })
	if err != nil {
		fmt.Fprintf(a.errOut(), "opm: warning: %v: orphaned processes will stay zombies\n", err)
	} else {
		defer reaper.Stop()
	}
	// Where the logs stand before the daemon writes to them.
	// Where the daemon puts logs: log_dir (OPM_LOG_DIR), or OPM_HOME's
	// logs/ (p.home is OPM_HOME's real path, as the daemon names it).
	planned := shm.PlannedLogs(p.home)
	st, err := newRunStream(a, planned, opts, knownLogs(file, p.home, planned.Dir))
	if err != nil {
		return err
	}

	ctx, stopDaemon := context.WithCancel(c.Context)
	defer stopDaemon()
	type startedMsg struct {
		res api.RestoreResult
		err error
	}
	started := make(chan startedMsg, 1)
	done := make(chan error, 1)
	// The daemon began to stop (SIGTERM): stoppingNow is closed then.
	var stopping atomic.Bool
	stoppingNow := make(chan struct{})
	// The apps errored (given up restarting) when the daemon began to
	// stop them all: they make the exit status.
	var errored []string
	pid := os.Getpid()
	go func() {
		done <- a.opts.RunDaemon(ctx, DaemonOptions{
			// --restore alone decides, not restore_on_start.
			Restore: restore, OnlyRestore: true,
			// 'opm daemon stop' and 'restart' from another shell are
			// refused: opm run would end, or be left without its
			// daemon while a background one took the apps.
			Service:  fmt.Sprintf("opm run (pid %d)", pid),
			StopHint: fmt.Sprintf("stop it by stopping the container, or with SIGTERM to opm run (kill -TERM %d)", pid),
			Started:  func(res api.RestoreResult, err error) { started <- startedMsg{res, err} },
			Stopping: func(apps []api.App) {
				for _, app := range apps {
					if app.Status == api.StatusErrored {
						errored = append(errored, api.Label(app.Name, app.Instance, app.Instances))
					}
				}
				if stopping.CompareAndSwap(false, true) {
					close(stoppingNow)
				}
			},
		})
	}()
	signalsDone := make(chan struct{})
	defer close(signalsDone)
	go a.watchSignals(sigs, signalsDone)

	var m startedMsg
	select {
	case m = <-started:
	case err := <-done:
		st.fw.close()
		select {
		case <-started: // it served, and ended at once
			return err
		default:
		}
		if err == nil {
			// Another daemon took the home meanwhile: the daemon said
			// so on standard error.
			err = failuref("opm run ends without its daemon")
		}
		return err
	}

	stream, stopStream := context.WithCancel(context.Background())
	defer stopStream()
	streamed := make(chan error, 1)
	go func() { streamed <- st.run(stream) }()

	// stoppedMeanwhile reports whether err, a failure of the restore or
	// of the file's apps, comes of the daemon stopping (SIGTERM): then
	// it is no failure. The daemon refuses requests as it stops (busy),
	// or a request is cut short, before this process's own signal
	// context may be done: such an error waits a moment for the stop
	// to show.
	stoppedMeanwhile := func(err error) bool {
		if ctx.Err() != nil || stopping.Load() {
			return true
		}
		if !stopAnswer(err) {
			return false
		}
		t := time.NewTimer(stopShowsWithin)
		defer t.Stop()
		select {
		case <-stoppingNow:
			return true
		case <-ctx.Done():
			return true
		case <-t.C:
			return false
		}
	}
	// What ends this run early, with the daemon stopped.
	var failed error
	if restore {
		switch {
		case m.err != nil && !stoppedMeanwhile(m.err):
			failed = fmt.Errorf("restore: %w", explain(m.err))
		case m.err != nil:
		case m.res.Path == "":
			fmt.Fprintf(a.errOut(), "opm: no saved apps to restore (run 'opm save' first)\n")
		default:
			// Apps that failed to start do not end the run: the
			// daemon retries them.
			printRestoreSummary(a.errOut(), "opm: ", m.res)
		}
	}
	if file != nil && failed == nil && ctx.Err() == nil && !stopping.Load() {
		// The table goes to standard error: standard output carries
		// the apps' lines only.
		b := &App{opts: Options{Stdout: a.errOut(), Stderr: a.errOut()}, args: a.args}
		b.conn.warnings = a.errOut()
		b.conn.noSpawn = true
		if err := b.startLoaded(c, file, false); err != nil && !stoppedMeanwhile(err) {
			failed = err
		}
	}
	if failed != nil {
		stopDaemon()
	}

	var daemonErr error
	for waiting := true; waiting; {
		select {
		case daemonErr = <-done:
			waiting = false
		case err := <-streamed:
			// The apps run on; their logs are still in their files.
			fmt.Fprintf(a.errOut(), "opm: warning: printing the apps' logs stopped: %v (see 'opm logs')\n", err)
			streamed = nil
		}
	}
	stopStream()
	if streamed != nil {
		if err := <-streamed; err != nil {
			fmt.Fprintf(a.errOut(), "opm: warning: printing the apps' logs stopped: %v (see 'opm logs')\n", err)
		} else if err := st.fw.readAll(); err != nil {
			// The last lines the apps wrote, drained by the daemon as
			// it stopped.
			fmt.Fprintf(a.errOut(), "opm: warning: printing the apps' logs: %v\n", err)
		}
	}
	st.fw.close()

	switch {
	case daemonErr != nil:
		return daemonErr
	case failed != nil:
		return failed
	}
	// Stopping ran before RunDaemon returned (done).
	if len(errored) > 0 {
		return failuref("apps had given up restarting (errored) when opm run stopped: %s (see 'opm logs' and %s)", strings.Join(escapeEach(errored), ", "), api.DaemonLogName)
	}
	return nil
}

// stopShowsWithin bounds how long an answer of a stopping daemon waits
// for the stop to show (its Stopping call, or the signal context).
const stopShowsWithin = 10 * time.Second

// stopAnswer reports whether err is how a stopping daemon answers: busy
// (shutting down), gone, or a request cut short.
func stopAnswer(err error) bool {
	return api.CodeOf(err) == api.CodeBusy || errors.Is(err, api.ErrUnreachable) || errors.Is(err, context.Canceled)
}

// killListTimeout bounds the listing of the apps to kill at a second
// signal.
const killListTimeout = 5 * time.Second

// watchSignals reads the SIGTERMs and SIGINTs that come until end is
// closed. The first stops the daemon by itself (it, and the command's
// context, catch it too): the apps get their kill signal, then SIGKILL
// after their kill timeout. A second one does not wait for that: each
// app's process group gets SIGKILL at once, and the daemon sees them
// exit.
func (a *App) watchSignals(sigs <-chan os.Signal, end <-chan struct{}) {
	for n := 1; ; n++ {
		var sig os.Signal
		select {
		case <-end:
			return
		case sig = <-sigs:
		}
		name := sig.String()
		if s, ok := sig.(syscall.Signal); ok {
			name = unix.SignalName(s)
		}
		if n == 1 {
			fmt.Fprintf(a.errOut(), "opm: %s: stopping every app (a second SIGTERM or Ctrl-C kills them at once)\n", name)
			continue
		}
		fmt.Fprintf(a.errOut(), "opm: %s again: killing every app (SIGKILL to its process group)\n", name)
		a.killApps()
	}
}

// killApps sends SIGKILL to the process group of every app of the
// daemon that runs in this process: never one started in the
// background, as the listing goes over the socket directly.
func (a *App) killApps() {
	_, cl, err := a.conn.resolve()
	var apps []api.App
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), killListTimeout)
		err = cl.Do(ctx, http.MethodGet, api.SummaryPath, nil, &apps)
		cancel()
	}
	if err != nil {
		fmt.Fprintf(a.errOut(), "opm: warning: cannot list the apps to kill them: %v; each gets SIGKILL after its kill timeout\n", explain(err))
		return
	}
	for _, app := range apps {
		if app.PID <= 1 {
			continue
		}
		if err := process.KillGroup(app.PID, syscall.SIGKILL); err != nil {
			fmt.Fprintf(a.errOut(), "opm: warning: kill %s (pid %d): %v\n", Escape(api.Label(app.Name, app.Instance, app.Instances)), app.PID, err)
		}
	}
}

// knownLogs are the log files of the apps opm run is about to start,
// named as the daemon will name them (logs.Own): those of the file's
// apps and of the saved ones (the dump), whether restored or not.
func knownLogs(f *ecosystem.File, home, logDir string) []string {
	var specs []api.Spec
	if f != nil {
		for _, fa := range f.Apps {
			for i := range fa.Request.Count() {
				specs = append(specs, api.Spec{Name: fa.Name, Instance: i, Cwd: fa.Request.Cwd, Settings: fa.Request.Settings})
			}
		}
	}
	if d, err := store.ReadDump(filepath.Join(home, api.DumpName)); err == nil {
		for _, da := range d.Apps {
			specs = append(specs, da.Spec)
		}
	}
	var paths []string
	for _, spec := range specs {
		logs.OwnIn(&spec, logDir)
		for _, path := range []string{spec.OutLog, spec.ErrLog, spec.CombinedLog} {
			if path != "" && path != api.DevNull {
				paths = append(paths, filepath.Clean(path))
			}
		}
	}
	return paths
}

// runStream prints the logs of every app of the daemon that `opm run`
// runs, apps started later too, and follows daemon.log to learn of them
// and of the apps that give up restarting. It runs on one goroutine (the
// follower's).
type runStream struct {
	a  *App
	fw *follower
	// started is when opm run started, and before where the logs known
	// then stood (those of $OPM_HOME/logs, those the ecosystem file and
	// the dump name), and where the logs let go since (their app
	// removed) were left: such a log is printed from its mark on, a log
	// made since from its start.
	started time.Time
	logDir  string
	before  map[string]logMark
	// known are the followed logs by path; labels the apps' labels at
	// the last listing, which stale says is due.
	known  map[string]*followed
	labels map[string]bool
	stale  bool
	// stopping is set once daemon.log says the daemon stops: no more
	// listings.
	stopping bool
	warned   map[string]bool
}

// newRunStream starts following daemon.log from its end, and marks where
// the logs of $OPM_HOME/logs and the logs at paths stand.
func newRunStream(a *App, planned shm.Logs, opts logOptions, paths []string) (*runStream, error) {
	fw, err := newFollower(newLogPrinter(opts, a.out(), a.errOut()))
	if err != nil {
		return nil, err
	}
	st := &runStream{
		a: a, fw: fw, started: time.Now(), logDir: planned.Dir,
		before: map[string]logMark{}, known: map[string]*followed{}, labels: map[string]bool{},
		warned: map[string]bool{},
	}
	fw.after = st.after
	if ents, err := os.ReadDir(st.logDir); err == nil {
		for _, e := range ents {
			if e.Type().IsRegular() && !strings.HasSuffix(e.Name(), api.GzipSuffix) {
				paths = append(paths, filepath.Join(st.logDir, e.Name()))
			}
		}
	}
	for _, path := range paths {
		st.mark(path)
	}
	// daemon.log from its end: what this run's daemon writes.
	path := planned.DaemonLog
	dlog := &followed{src: newLogSource("", "out", path, ""), sink: st.daemonLine, lastRotated: newestRotation(path)}
	if fh, err := os.Open(path); err == nil {
		dlog.fh = fh
		if fi, err := fh.Stat(); err == nil {
			dlog.off = fi.Size()
		}
	}
	if err := fw.add(dlog); err != nil {
		fw.close()
		return nil, err
	}
	return st, nil
}

// mark records where the regular file at path ends now, under path and
// under its real path (the daemon's name for it may be either).
func (st *runStream) mark(path string) {
	fh, err := os.Open(path)
	if err != nil {
		return
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return
	}
	m, err := markOf(fh, fi.Size())
	if err != nil {
		return
	}
	m.lastRotated = st.started
	st.before[path] = m
	if real, err := filepath.EvalSymlinks(path); err == nil && real != path {
		if _, ok := st.before[real]; !ok {
			st.before[real] = m
		}
	}
}

// run lists the apps, prints their logs and goes on until ctx ends.
func (st *runStream) run(ctx context.Context) error {
	st.stale = true
	if err := st.fw.readAll(); err != nil {
		return err
	}
	return st.fw.run(ctx)
}

// daemonLine reads one line of daemon.log for the events that matter
// here.
func (st *runStream) daemonLine(line []byte) {
	event, app := daemonEvent(line)
	switch event {
	case api.EventDaemonStop, api.EventDaemonExit:
		st.stopping = true
	case api.EventStarted, api.EventAdopted:
		if !st.labels[app] {
			st.stale = true // a new app, or a new instance
		}
	case api.EventRemoved:
		// One of that name may come, with other logs; the listing lets
		// go of this one's.
		delete(st.labels, app)
		st.stale = true
	case api.EventRegistered, api.EventUpdated, api.EventScaled:
		st.stale = true // new logs, or new labels
	}
}

// daemonEvent reads the event and app attributes of a line of
// daemon.log (slog's text format: key=value, values quoted when they
// need to be).
func daemonEvent(line []byte) (event, app string) {
	s := string(line)
	for s != "" {
		key, rest, ok := strings.Cut(s, "=")
		if !ok || strings.ContainsAny(key, " \"") {
			return event, app
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return event, app
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			val, rest, _ = strings.Cut(rest, " ")
			rest = " " + rest
		}
		switch key {
		case "event":
			event = val
		case "app":
			app = val
		}
		s = strings.TrimPrefix(rest, " ")
	}
	return event, app
}

// after runs after each round of reads: it lists the apps again when
// daemon.log told of new ones (or when the last listing failed), follows
// their logs, and lets go of the logs of apps no longer listed.
func (st *runStream) after() error {
	if !st.stale || st.stopping {
		return nil
	}
	_, cl, err := st.a.conn.resolve()
	if err != nil {
		return err
	}
	// Never a call that would start a daemon: this one is stopping.
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	var apps []api.App
	if err := cl.Do(ctx, http.MethodGet, api.SummaryPath, nil, &apps); err != nil {
		return nil // still stale: the next round lists again
	}
	st.stale = false
	clear(st.labels)
	for _, app := range apps {
		st.labels[api.Label(app.Name, app.Instance, app.Instances)] = true
	}
	listed := map[string]bool{}
	for _, src := range logSources(apps, true, true) {
		listed[src.path] = true
		if f, ok := st.known[src.path]; ok {
			// Scaled: a file of instance 0 becomes "web:0".
			f.src.label, f.src.instance = src.label, src.instance
			continue
		}
		f := st.open(src)
		st.known[src.path] = f
		if err := st.fw.add(f); err != nil {
			if dir := filepath.Dir(src.path); !st.warned[dir] {
				st.warned[dir] = true
				fmt.Fprintf(st.a.errOut(), "opm: warning: cannot follow %s: %v (see 'opm logs %s')\n", Escape(src.path), err, Escape(src.app))
			}
			continue
		}
		if err := f.update(st.fw.p, st.fw.buf); err != nil {
			return err
		}
	}
	// The logs of apps removed (or instances scaled away): read to
	// their end, then closed, where they were left marked should the
	// app come back.
	for path, f := range st.known {
		if listed[path] {
			continue
		}
		if err := f.update(st.fw.p, st.fw.buf); err != nil {
			return err
		}
		st.fw.remove(f)
		delete(st.known, path)
		m := logMark{lastRotated: f.lastRotated}
		if f.fh != nil {
			// An unfinished last line is read again then.
			if fm, err := markOf(f.fh, f.off-int64(len(f.partial))); err == nil {
				fm.lastRotated = f.lastRotated
				m = fm
			}
			f.fh.Close()
		}
		st.before[path] = m
	}
	return nil
}

// open starts following the log of src: from its mark (see before),
// when it is the file marked — or, when that file was rotated since, from
// the mark in its rotated file; a file elsewhere than $OPM_HOME/logs that
// nothing wrote since opm run started, from its end; any other from its
// start, after the files rotated since it was marked or opm run started.
// (A mark at 0 is read as any other file: from its start, after those
// rotated since.)
func (st *runStream) open(src *logSource) *followed {
	f := &followed{src: src, lastRotated: st.started}
	m, known := st.before[src.path]
	if known {
		f.lastRotated = m.lastRotated
		delete(st.before, src.path)
	}
	fh, err := os.Open(src.path)
	if err == nil {
		fi, err := fh.Stat()
		switch {
		case err != nil:
		case known && m.off > 0 && m.holds(fh, fi):
			f.fh, f.off = fh, m.off
			return f
		case !known && filepath.Dir(src.path) != st.logDir && fi.ModTime().Before(st.started):
			f.fh, f.off = fh, fi.Size()
			return f
		}
		// The first update opens it again, and reads first what was
		// rotated since.
		fh.Close()
	}
	if known && m.fi != nil {
		f.resume = &m
	}
	return f
}
