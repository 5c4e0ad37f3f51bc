package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
	"opm/shm"
)

const (
	// restoreTimeout bounds the daemon's work on one restore request.
	restoreTimeout = 5 * time.Minute
	// restoreWait bounds waiting for another process's restore.
	restoreWait = 2 * time.Minute
	// restorePoll is how often a waiting restore looks at the flag: one
	// atomic load, plus a liveness probe of the owner.
	restorePoll = 10 * time.Millisecond
)

func (a *App) restoreCommand() *ucli.Command {
	return &ucli.Command{
		Name:    "restore",
		Aliases: []string{"resurrect"},
		Usage:   "start every app of the dump that is not running, exactly once",
		Description: `Starts every app that 'opm save' recorded as running and that is not
running now; apps saved as stopped are registered but stay stopped, and apps
opm already knows are left alone. When another restore is in progress, this
one starts nothing itself: it waits for that one to finish, then reports.
Exits 0 when every app that should run is running.`,
		Flags:  []ucli.Flag{jsonFlag()},
		Action: a.restore,
	}
}

func (a *App) restore(c *ucli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	p, _, err := a.conn.resolve()
	if err != nil {
		return err
	}
	if err := shm.EnsureDir(p.runtime); err != nil {
		return err
	}
	flag, err := shm.OpenFlag(p.runtime)
	if err != nil {
		return fmt.Errorf("open the restore flag: %w", err)
	}
	defer flag.Close()

	ctx := c.Context
	deadline := time.Now().Add(restoreWait)
	waited := false
	for {
		_, err := flag.Acquire()
		if err == nil {
			res, err := a.restoreOwned(ctx, flag)
			if err != nil {
				return err
			}
			return a.reportRestore(c, res, waited)
		}
		var busy *shm.BusyError
		if !errors.As(err, &busy) {
			return fmt.Errorf("acquire the restore flag: %w", err)
		}
		if !waited {
			fmt.Fprintf(a.errOut(), "opm: a restore by pid %d is in progress; waiting for it to finish\n", busy.Owner.PID)
			waited = true
		}
		// When the flag is free again, take it and ask the daemon: it
		// starts only saved apps that are not in its table, so after a
		// finished restore this starts nothing and reports the outcome,
		// and after a restorer that died half-way it completes the work.
		if err := waitFlagFree(ctx, flag, deadline, busy.Owner); err != nil {
			return err
		}
	}
}

// waitFlagFree waits until nobody holds the restore flag, clearing it when
// its owner died.
func waitFlagFree(ctx context.Context, flag *shm.Flag, deadline time.Time, owner shm.Owner) error {
	t := time.NewTicker(restorePoll)
	defer t.Stop()
	for {
		if !flag.InProgress() {
			return nil
		}
		if _, cleared, err := flag.ClearIfStale(); err != nil {
			return fmt.Errorf("check the restore flag: %w", err)
		} else if cleared {
			return nil
		}
		if time.Now().After(deadline) {
			return failuref("the restore by pid %d is still running after %s; try again later (see 'opm daemon status')", owner.PID, restoreWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
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
	return res, unanswered(err, http.MethodPost, restoreTimeout)
}

// reportRestore prints the summary and decides the exit status: success
// when every app that should run is running.
func (a *App) reportRestore(c *ucli.Context, res api.RestoreResult, waited bool) error {
	apps, err := a.apps(c.Context, "all")
	if err != nil {
		return err
	}
	status := map[string]string{}
	for _, app := range apps {
		status[app.Name] = app.Status
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
		a.printf("restored from %s: %d started, %d already running, %d stopped, %d failed\n",
			Escape(res.Path), len(res.Started), len(res.AlreadyRunning), len(res.Stopped), len(res.Failed))
		a.printList("started", res.Started)
		a.printList("already running", res.AlreadyRunning)
		a.printList("stopped", res.Stopped)
		failed := make([]string, 0, len(res.Failed))
		for name, why := range res.Failed {
			failed = append(failed, Escape(name)+": "+Escape(why))
		}
		sort.Strings(failed)
		if len(failed) > 0 {
			a.printf("  failed: %s\n", strings.Join(failed, ", "))
		}
	}
	switch {
	case len(res.Failed) > 0:
		return failuref("%d saved apps failed to start (see 'opm logs <name>' and 'opm list')", len(res.Failed))
	case len(down) > 0:
		return failuref("saved apps are not running: %s (see 'opm logs <name>' and 'opm list')", strings.Join(down, ", "))
	}
	return nil
}

// printList prints a labelled list of app names, escaped.
func (a *App) printList(label string, names []string) {
	if len(names) > 0 {
		a.printf("  %s: %s\n", label, strings.Join(escapeEach(names), ", "))
	}
}
