package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
	"opm/daemon/process"
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
its kill timeout) and ends 'opm run'; so does 'opm daemon stop'. SIGHUP
is ignored. The exit status is 0 when the apps were stopped, 1 when the
daemon failed, could not start (another one runs for this OPM_HOME), the
file's apps or the restore failed, or an app was errored (had given up
restarting) when the stop began, 2 for bad usage.

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
	file := ""
	if len(args) == 1 {
		file = args[0]
		// A file that cannot be used stops everything before the
		// daemon starts: nothing is restored, nothing started.
		if _, err := a.loadFile(c, file, false); err != nil {
			return err
		}
	}
	p, _, err := a.conn.resolve()
	if err != nil {
		return err
	}
	// SIGHUP is ignored; the daemon absorbs it too once it runs.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)

	reaper, err := process.StartReaper()
	if err != nil {
		fmt.Fprintf(a.errOut(), "opm: warning: %v: orphaned processes will stay zombies\n", err)
	} else {
		defer reaper.Stop()
	}
	// Where the logs stand before the daemon writes to them.
	st, err := newRunStream(a, p.home, opts)
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
	// The apps errored (given up restarting) when the daemon began to
	// stop them all: they make the exit status.
	var errored []string
	go func() {
		done <- a.opts.RunDaemon(ctx, DaemonOptions{
			Restore: restore,
			Started: func(res api.RestoreResult, err error) { started <- startedMsg{res, err} },
			Stopping: func(apps []api.App) {
				for _, app := range apps {
					if app.Status == api.StatusErrored {
						errored = append(errored, api.Label(app.Name, app.Instance, app.Instances))
					}
				}
			},
		})
	}()
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
			// The daemon said why on standard error.
			err = failuref("the opm daemon did not start: another one runs for this OPM_HOME (see 'opm daemon status')")
		}
		return err
	}

	stream, stopStream := context.WithCancel(context.Background())
	defer stopStream()
	streamed := make(chan error, 1)
	go func() { streamed <- st.run(stream) }()

	// What ends this run early, with the daemon stopped.
	var failed error
	if restore {
		failed = a.reportRestoreStart(m.res, m.err, ctx.Err() != nil)
	}
	if file != "" && failed == nil && ctx.Err() == nil {
		// The table goes to standard error: standard output carries
		// the apps' lines only.
		b := &App{opts: Options{Stdout: a.errOut(), Stderr: a.errOut()}, args: a.args}
		b.conn.warnings = a.errOut()
		failed = b.startFile(c, file, false)
		if ctx.Err() != nil {
			failed = nil // stopped meanwhile (SIGTERM): not a failure
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
		<-streamed
		// The last lines the apps wrote, drained by the daemon as it
		// stopped.
		if err := st.fw.readAll(); err != nil {
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

// reportRestoreStart says on standard error how the restore on start
// went. A restore that failed (an unreadable dump, a flag held too long)
// ends the run; apps that failed to start do not: the daemon retries them.
func (a *App) reportRestoreStart(res api.RestoreResult, err error, stopping bool) error {
	if err != nil {
		if stopping {
			return nil
		}
		return fmt.Errorf("restore: %w", explain(err))
	}
	if res.Path == "" {
		fmt.Fprintf(a.errOut(), "opm: no saved apps to restore (run 'opm save' first)\n")
		return nil
	}
	fmt.Fprintf(a.errOut(), "opm: restored from %s: %d started, %d already running, %d stopped, %d failed\n",
		Escape(res.Path), len(res.Started), len(res.AlreadyRunning), len(res.Stopped), len(res.Failed))
	failed := make([]string, 0, len(res.Failed))
	for name, why := range res.Failed {
		failed = append(failed, Escape(name)+": "+Escape(why))
	}
	sort.Strings(failed)
	if len(failed) > 0 {
		fmt.Fprintf(a.errOut(), "opm:   failed: %s\n", strings.Join(failed, ", "))
	}
	return nil
}

// runStream prints the logs of every app of the daemon that `opm run`
// runs, apps started later too, and follows daemon.log to learn of them
// and of the apps that give up restarting. It runs on one goroutine (the
// follower's).
type runStream struct {
	a  *App
	fw *follower
	// started is when opm run started, and before the logs of
	// $OPM_HOME/logs then: a log that was there is printed from where it
	// ended, a log made since from its start.
	started time.Time
	logDir  string
	before  map[string]os.FileInfo
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

func newRunStream(a *App, home string, opts logOptions) (*runStream, error) {
	fw, err := newFollower(newLogPrinter(opts, a.out(), a.errOut()))
	if err != nil {
		return nil, err
	}
	st := &runStream{
		a: a, fw: fw, started: time.Now(), logDir: filepath.Join(home, api.LogsDir),
		before: map[string]os.FileInfo{}, known: map[string]*followed{}, labels: map[string]bool{},
		warned: map[string]bool{},
	}
	fw.after = st.after
	// The daemon names the logs from OPM_HOME's real path.
	if real, err := filepath.EvalSymlinks(home); err == nil {
		st.logDir = filepath.Join(real, api.LogsDir)
	}
	if ents, err := os.ReadDir(st.logDir); err == nil {
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
				st.before[filepath.Join(st.logDir, e.Name())] = fi
			}
		}
	}
	// daemon.log from its end: what this run's daemon writes.
	path := filepath.Join(home, api.DaemonLogName)
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
	case "daemon-stop", "daemon-exit":
		st.stopping = true
	case "started", "adopted":
		if !st.labels[app] {
			st.stale = true // a new app, or a new instance
		}
	case "removed":
		delete(st.labels, app) // one of that name may come, with other logs
	case "registered", "updated", "scaled":
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
// daemon.log told of new ones, and follows their logs.
func (st *runStream) after() error {
	if !st.stale || st.stopping {
		return nil
	}
	st.stale = false
	_, cl, err := st.a.conn.resolve()
	if err != nil {
		return err
	}
	// Never a call that would start a daemon: this one is stopping.
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	var apps []api.App
	if err := cl.Do(ctx, http.MethodGet, api.SummaryPath, nil, &apps); err != nil {
		return nil
	}
	clear(st.labels)
	for _, app := range apps {
		st.labels[api.Label(app.Name, app.Instance, app.Instances)] = true
	}
	for _, src := range logSources(apps, true, true) {
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
	return nil
}

// open starts following the log of src: from where it ended when opm
// run started, if it was in $OPM_HOME/logs then and has not been rotated
// since; a file elsewhere that nothing wrote since, from its end; any
// other from its start, after the files rotated since opm run started.
func (st *runStream) open(src *logSource) *followed {
	f := &followed{src: src, lastRotated: st.started}
	fh, err := os.Open(src.path)
	if err != nil {
		return f // read once it is made
	}
	fi, err := fh.Stat()
	old, known := st.before[src.path]
	switch {
	case err != nil:
	case known && os.SameFile(old, fi):
		f.fh, f.off = fh, old.Size()
		return f
	case !known && filepath.Dir(src.path) != st.logDir && fi.ModTime().Before(st.started):
		f.fh, f.off = fh, fi.Size()
		return f
	}
	// The first update opens it again, and reads first what was rotated
	// since opm run started.
	fh.Close()
	return f
}
