package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Scenario 2: N saved apps, the daemon and its apps stopped, the runtime
// directory emptied (a reboot or a fresh container), then one restore
// command. The time runs from the command's start until it has returned
// and /proc shows every app's process; /proc then shows whether each app
// runs exactly once.

const scenarioRestore = "2 restore"

func runRestore(ctx context.Context, b *bench) error {
	var errs []error
	python, err := findSpawnPython(ctx)
	if err != nil {
		b.rep.notef("scenario 2: no posix_spawn floor: %v", err)
	}
	if len(b.p.RestoreN) > 0 {
		for _, p := range restoreLimitProblems(slices.Max(b.p.RestoreN)) {
			b.rep.notef("scenario 2: %s", p)
		}
	}
	for _, n := range b.p.RestoreN {
		if d, err := measureStartFloor(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("floor, %d apps: %w", n, err))
		} else {
			b.rep.set(scenarioRestore, fmt.Sprintf("floor (bare Go spawner): %d apps online", n), "ms", "opm", ms(d))
		}
		if python != "" {
			if d, err := measureSpawnFloor(ctx, python, n); err != nil {
				errs = append(errs, fmt.Errorf("posix_spawn floor, %d apps: %w", n, err))
			} else {
				b.rep.set(scenarioRestore, spawnFloorMetric(n), "ms", "opm", ms(d))
			}
		}
		for _, t := range b.tools() {
			res, err := measureRestore(ctx, b, t, n)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s, %d apps: %w", t.Name(), n, err))
				continue
			}
			r := b.rep.set(scenarioRestore, fmt.Sprintf("%d apps online", n), "ms", t.Name(), ms(res.online))
			if desc, check := restoreTarget(b.rep, n); desc != "" {
				r.target(desc, check)
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
	if err := waitStopped(ctx, t, sb, onlineTimeout(n)); err != nil {
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

// restoreLimitProblems says which of the machine's limits a restore of
// n apps would run into. At the peak, while a floor or a daemon runs n
// apps, this user has n processes plus up to one thread per app in the
// supervisor (opm once held one in a blocking wait per child it spawned),
// and the supervisor holds a few descriptors per app (pidfds; os/exec's
// own pidfd for the bare Go floor); Go programs raise their soft
// RLIMIT_NOFILE to the hard limit at start-up, so the hard one counts.
func restoreLimitProblems(n int) []string {
	var out []string
	procs := uint64(2*n + 512)
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NPROC, &rl) == nil && rl.Cur != unix.RLIM_INFINITY && os.Geteuid() != 0 && rl.Cur < procs {
		out = append(out, fmt.Sprintf("RLIMIT_NPROC is %d: %d apps and their supervisor's threads need about %d", rl.Cur, n, procs))
	}
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Max != unix.RLIM_INFINITY && rl.Max < uint64(4*n+256) {
		out = append(out, fmt.Sprintf("hard RLIMIT_NOFILE is %d: a supervisor of %d apps may need about %d descriptors", rl.Max, n, 4*n+256))
	}
	for _, f := range []string{"/proc/sys/kernel/pid_max", "/proc/sys/kernel/threads-max", "/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil { // "max"
			continue
		}
		if v < procs {
			out = append(out, fmt.Sprintf("%s is %d: %d apps and their supervisor's threads need about %d", f, v, n, procs))
		}
	}
	return out
}
