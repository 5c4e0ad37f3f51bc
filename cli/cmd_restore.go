package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
	"opm/daemon/proc"
	"opm/shm"
)

const (
	// restoreTimeout bounds the daemon's work on one restore request.
	restoreTimeout = 5 * time.Minute
	// restoreWait is the default bound on waiting for another process's
	// restore (--wait).
	restoreWait = 2 * time.Minute
	// A waiting restore looks at the flag (one atomic load and one lock
	// probe) with a back-off between these bounds.
	restorePollMin = 2 * time.Millisecond
	restorePollMax = 100 * time.Millisecond
)

func (a *App) restoreCommand() *ucli.Command {
	return &ucli.Command{
		Name:    "restore",
		Aliases: []string{"resurrect"},
		Usage:   "start every app of the dump that is not running, exactly once",
		Description: `Starts every app that 'opm save' recorded as running and that is not
running now; apps saved as stopped are registered but stay stopped, and apps
opm already knows are left alone. When another restore is in progress, this
one starts nothing itself: it waits for that one to finish (at most --wait),
then reports. Exits 0 when every app that should run is running.`,
		Flags: []ucli.Flag{
			jsonFlag(),
			&ucli.DurationFlag{
				Name:  "wait",
				Value: restoreWait,
				Usage: "how long to wait for another restore holding the restore flag before giving up (e.g. 30s; 0 gives up at once)",
			},
		},
		Action: a.restore,
	}
}

func (a *App) restore(c *ucli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	wait := c.Duration("wait")
	if wait < 0 {
		return usageErrorf("--wait %s: want a duration of 0 or more, such as 30s (see 'opm restore --help')", wait)
	}
	p, _, err := a.conn.resolve()
	if err != nil {
		return err
	}
	flag, err := shm.OpenFlag(p.runtime)
	if err != nil {
		return fmt.Errorf("open the restore flag: %w", err)
	}
	defer flag.Close()

	w := &flagWait{flag: flag, deadline: time.Now().Add(wait), wait: wait, delay: restorePollMin}
	for {
		start, _ := proc.StartTime(os.Getpid())
		_, err := flag.Acquire(start)
		if err == nil {
			res, err := a.restoreOwned(c.Context, flag)
			if err != nil {
				return err
			}
			return a.reportRestore(c, res, w.waited)
		}
		var busy *shm.BusyError
		if !errors.As(err, &busy) {
			return fmt.Errorf("acquire the restore flag: %w", err)
		}
		if !w.waited {
			if busy.Owner.Word == 0 {
				fmt.Fprintf(a.errOut(), "opm: the restore flag is locked by a process that names no owner in it (a restore starting or finishing?); waiting up to %s for it\n", wait)
			} else {
				fmt.Fprintf(a.errOut(), "opm: a restore by pid %d is in progress; waiting up to %s for it to finish\n", busy.Owner.PID, wait)
			}
			w.waited = true
		}
		// When the flag is free again, take it and ask the daemon: it
		// starts only saved apps that are not in its table, so after a
		// finished restore this starts nothing and reports the outcome,
		// and after a restorer that died half-way it completes the work.
		if err := w.untilFree(c.Context); err != nil {
			return err
		}
	}
}

// flagWait is a restore waiting for the restore flag to be free.
type flagWait struct {
	flag     *shm.Flag
	deadline time.Time
	wait     time.Duration
	// delay is the next pause between looks; it grows across calls, so
	// a flag that keeps being taken again is not polled in a hot loop.
	delay  time.Duration
	waited bool
}

// untilFree waits until nobody holds the restore flag — the owner word is
// idle and nobody holds its lock — clearing it when its owner died. It
// gives up at the deadline, and when ctx ends (SIGINT, SIGTERM).
func (w *flagWait) untilFree(ctx context.Context) error {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		if ctx.Err() != nil {
			return failuref("interrupted while waiting for the restore flag; this restore started nothing")
		}
		var owner shm.Owner
		free, err := w.flag.Free()
		if err == nil && !free {
			var cleared bool
			owner, cleared, err = w.flag.ClearIfStale()
			free = cleared
		}
		if err != nil {
			return fmt.Errorf("check the restore flag: %w", err)
		}
		if free {
			return nil
		}
		if !time.Now().Before(w.deadline) {
			if owner.Word == 0 {
				return failuref("gave up after %s: the restore flag %s is locked but names no owner: a restore is starting or finishing, or a process that is not 'opm restore' holds its lock (try again; if this persists, find what holds the file open, e.g. with 'fuser -v %s')", w.wait, w.flag.Path(), w.flag.Path())
			}
			return failuref("gave up after %s: the restore by pid %d is still running; try again later (see 'opm daemon status')", w.wait, owner.PID)
		}
		t.Reset(min(w.delay, time.Until(w.deadline)))
		w.delay = min(2*w.delay, restorePollMax)
		select {
		case <-ctx.Done():
			return failuref("interrupted while waiting for the restore flag; this restore started nothing")
		case <-t.C:
		}
	}
}

// restoreOwned asks the daemon to restore while this process holds the
// flag, and releases the flag afterwards whatever happened.
func (a *App) restoreOwned(ctx context.Context, flag *shm.Flag) (res api.RestoreResult, err error) {
	defer func() {
		if rerr := flag.Release(); rerr != nil && err == nil {
			err = fmt.Errorf("release the restore flag: %w", rerr)
		}
	}()
	cl, err := a.conn.ensure(ctx)
	if err != nil {
		return res, err
	}
	rctx, cancel := context.WithTimeout(ctx, restoreTimeout)
	defer cancel()
	err = cl.Do(rctx, http.MethodPost, api.PathRestore, nil, &res)
	return res, unansweredHint(err, http.MethodPost, restoreTimeout, "a restore's own work is bounded by "+restoreTimeout.String())
}

// reportRestore prints the summary and decides the exit status: success
// when every app that should run is running.
func (a *App) reportRestore(c *ucli.Context, res api.RestoreResult, waited bool) error {
	var apps []api.App
	err := a.call(c.Context, http.MethodGet, api.SummaryPath, nil, &apps)
	if err != nil {
		return err
	}
	// The result names each instance by its label ("web:2").
	status := map[string]string{}
	for _, app := range apps {
		status[api.Label(app.Name, app.Instance, app.Instances)] = app.Status
	}
	var down []string
	for _, name := range slices.Concat(res.Started, res.AlreadyRunning) {
		if s := status[name]; s != api.StatusOnline && s != api.StatusLaunching {
			down = append(down, fmt.Sprintf("%s (%s)", name, orDash(s)))
		}
	}
	if c.Bool("json") {
		if err := writeJSON(a.out(), res); err != nil {
			return err
		}
	} else {
		if waited {
			a.printf("the other restore finished; ")
		}
		printRestoreSummary(a.out(), "", res)
	}
	switch {
	case len(res.Failed) > 0:
		return failuref("%d saved apps failed to start (see 'opm logs <name>' and 'opm list')", len(res.Failed))
	case len(down) > 0:
		return failuref("saved apps are not running: %s (see 'opm logs <name>' and 'opm list')", strings.Join(down, ", "))
	}
	return nil
}

// printRestoreSummary writes how a restore went, each line after prefix
// ("opm: " on standard error for 'opm run --restore'): the counts, then
// the apps of each outcome, escaped.
func printRestoreSummary(w io.Writer, prefix string, res api.RestoreResult) {
	fmt.Fprintf(w, "%srestored from %s: %d started, %d already running, %d stopped, %d failed\n",
		prefix, Escape(res.Path), len(res.Started), len(res.AlreadyRunning), len(res.Stopped), len(res.Failed))
	list := func(label string, names []string) {
		if len(names) > 0 {
			fmt.Fprintf(w, "%s  %s: %s\n", prefix, label, strings.Join(names, ", "))
		}
	}
	list("started", escapeEach(res.Started))
	list("already running", escapeEach(res.AlreadyRunning))
	list("stopped", escapeEach(res.Stopped))
	failed := make([]string, 0, len(res.Failed))
	for name, why := range res.Failed {
		failed = append(failed, Escape(name)+": "+Escape(why))
	}
	sort.Strings(failed)
	list("failed", failed)
}
