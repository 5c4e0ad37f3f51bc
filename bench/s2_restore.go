package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Scenario 2: N saved apps, the daemon and its apps stopped, the runtime
// directory emptied (a reboot or a fresh container), then one restore
// command. The time runs from the command's start until it has returned
// and /proc shows every app's process; /proc then shows whether each app
// runs exactly once.

const scenarioRestore = "2 restore"

func runRestore(ctx context.Context, b *bench) error {
	var errs []error
	for _, n := range b.p.RestoreN {
		if d, err := measureStartFloor(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("floor, %d apps: %w", n, err))
		} else {
			b.rep.set(scenarioRestore, fmt.Sprintf("floor (bare Go spawner): %d apps online", n), "ms", "opm", ms(d))
		}
		for _, t := range b.tools() {
			res, err := measureRestore(ctx, b, t, n)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s, %d apps: %w", t.Name(), n, err))
				continue
			}
			r := b.rep.set(scenarioRestore, fmt.Sprintf("%d apps online", n), "ms", t.Name(), ms(res.online))
			if n == 1000 {
				r.target("≤ 1000, ≤ 0.1× PM2", andRatio(atMost(1000), 0.1))
			}
			b.rep.set(scenarioRestore, fmt.Sprintf("%d apps: command returned", n), "ms", t.Name(), ms(res.command))
			b.rep.set(scenarioRestore, fmt.Sprintf("%d apps: stop daemon and apps before", n), "ms", t.Name(), ms(res.stop))
			b.rep.set(scenarioRestore, fmt.Sprintf("%d apps: not exactly once", n), "apps", t.Name(), float64(res.missing+res.duplicates)).
				target("0", atMost(0))
		}
	}
	return errors.Join(errs...)
}

type restoreResult struct {
	// command is how long the restore command ran; online, until it had
	// returned and every app had a process.
	command, online time.Duration
	// stop is how long the daemon took to stop with its apps.
	stop                time.Duration
	missing, duplicates int
}

func measureRestore(ctx context.Context, b *bench, t tool, n int) (res restoreResult, err error) {
	err = b.withSandbox(t, func(sb *sandbox) error {
		var err error
		if res.stop, err = prepareRestore(ctx, t, sb, n); err != nil {
			return err
		}
		start := time.Now()
		r := sb.run(ctx, bulkTimeout, t.restoreArgv()...)
		if err := r.error(); err != nil {
			return err
		}
		res.command, res.online = r.Dur, r.Dur
		first := true
		err = poll(ctx, onlineTimeout(n), 2*time.Millisecond, func() (bool, error) {
			c, err := scanApps(sb.w)
			if err != nil || !c.complete(n) {
				first = false
				return false, err
			}
			if !first { // not all there when the command returned
				res.online = time.Since(start)
			}
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("wait for restored apps: %w", err)
		}
		// Let the tool finish its bookkeeping, then count processes.
		errOnline := waitOnline(ctx, t, sb, n, onlineTimeout(n))
		c, err := scanApps(sb.w)
		if err != nil {
			return err
		}
		if _, res.missing, res.duplicates = c.tally(n); res.missing+res.duplicates == 0 {
			return errOnline
		}
		return nil
	})
	return res, err
}

// prepareRestore starts n apps, saves them, stops the tool (returning how
// long the stop took until /proc showed nothing left) and empties the
// runtime directory.
func prepareRestore(ctx context.Context, t tool, sb *sandbox, n int) (time.Duration, error) {
	if err := startApps(ctx, t, sb, n); err != nil {
		return 0, err
	}
	if err := t.save(ctx, sb); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := t.shutdown(ctx, sb); err != nil {
		return 0, err
	}
	if err := waitStopped(ctx, t, sb, 30*time.Second); err != nil {
		return 0, err
	}
	stop := time.Since(start)
	return stop, sb.emptyRuntime()
}

// measureStartFloor times a bare supervisor from its exec until its n
// apps run.
func measureStartFloor(ctx context.Context, n int) (d time.Duration, err error) {
	r, err := startBare(ctx, n)
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, r.stop()) }()
	return r.waitApps(ctx, n)
}
