package main

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"opm/daemon/proc"
)

// Scenario 3: apps killed with SIGKILL; each time the clock runs from the
// kill until /proc shows the app's new process (its argv, i.e. after
// exec). Back-off is at its minimum (opm: restart_delay in config.toml;
// PM2: restart_delay 0, its default; go-supervisord: restartpause 0, its
// default). Two ways:
//
//   - one app, killed N times: it lives crashUptime between a restart and
//     the next kill;
//   - N distinct apps, each killed once in turn, crashUptime apart.
//
// Before its first kill an app has run at least crashAge: go-supervisord
// waits 5 s before restarting a program that exited 1 to 2 s after it
// started (hard-coded), so an app killed younger than 2 s would time
// that pause rather than its restart.

const scenarioCrash = "3 crash→restart"

const (
	// crashPoll is the /proc poll interval: the timing resolution.
	crashPoll = 100 * time.Microsecond
	// crashResolution is the timing's resolution in ms (one crashPoll):
	// medians closer than that are not told apart.
	crashResolution = float64(crashPoll) / float64(time.Millisecond)
	// crashUptime is how long each restarted app runs before the next kill.
	crashUptime = 50 * time.Millisecond
	// crashAge is how long an app has run before its first kill.
	crashAge = 3 * time.Second
)

func runCrash(ctx context.Context, b *bench) error {
	var errs []error
	one, distinct := make([]int, b.p.CrashN), make([]int, b.p.CrashApps)
	for i := range distinct {
		distinct[i] = i
	}
	n := len(distinct)
	distinctMetric := func(what string) string {
		return fmt.Sprintf("%d distinct apps, each killed once: %s", n, what)
	}

	// One app, killed again and again.
	floor := crashFloor(ctx, b, one, "floor (bare Go supervisor): median", "floor (bare Go supervisor): p99", &errs)
	var opm durStats // its zero value (N 0): opm did not run, or failed
	for _, t := range b.tools() {
		ds, err := measureCrash(ctx, b, t, one)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.Name(), err))
			continue
		}
		s := summarize(ds)
		desc, check := "≤ 2", atMost(2)
		if b.supd != nil {
			desc, check = "≤ 2, ≤ supervisord", allOf(targetPart{"≤ 2", atMost(2)}, targetPart{"≤ supervisord", supervisordWithin(crashResolution)})
		}
		b.rep.set(scenarioCrash, fmt.Sprintf("median of %d", s.N), "ms", t.Name(), ms(s.Median)).target(desc, check)
		b.rep.set(scenarioCrash, "p99", "ms", t.Name(), ms(s.P99)).target("≤ 10", atMost(10))
		if t.Name() == "opm" {
			opm = s
		}
	}
	if floor.N > 0 && opm.N > 0 {
		b.rep.set(scenarioCrash, "opm median − floor median", "ms", "opm", ms(opm.Median-floor.Median)).
			target("≤ 0.3", atMost(0.3)).noRatio = true
	}

	// Distinct apps, each killed once.
	floor = crashFloor(ctx, b, distinct, fmt.Sprintf("floor (bare Go supervisor), %d distinct apps: median", n),
		fmt.Sprintf("floor (bare Go supervisor), %d distinct apps: max", n), &errs)
	opm = durStats{}
	for _, t := range b.tools() {
		ds, err := measureCrash(ctx, b, t, distinct)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s, %d distinct apps: %w", t.Name(), n, err))
			continue
		}
		s := summarize(ds)
		r := b.rep.set(scenarioCrash, distinctMetric("median"), "ms", t.Name(), ms(s.Median))
		if b.supd != nil {
			r.target(fmt.Sprintf("≤ supervisord (+%g: the resolution)", crashResolution), supervisordWithin(crashResolution))
		}
		b.rep.set(scenarioCrash, distinctMetric("max"), "ms", t.Name(), ms(s.Max))
		if t.Name() == "opm" {
			opm = s
		}
	}
	if floor.N > 0 && opm.N > 0 {
		b.rep.set(scenarioCrash, fmt.Sprintf("%d distinct apps: opm median − floor median", n), "ms", "opm", ms(opm.Median-floor.Median)).noRatio = true
	}
	note := fmt.Sprintf("scenario 3: each app has run ≥ %s before its first kill; an app killed again lives %s after each restart", crashAge, crashUptime)
	if b.supd != nil {
		note += " (go-supervisord: within its startsecs=1, so it sees the exit by a 100 ms poll; the distinct apps time its immediate restart)"
	}
	b.rep.notef("%s", note)
	return errors.Join(errs...)
}

// crashFloor times the bare supervisor killing apps in order and records
// its median and its p99 (its max when order names several apps, each
// killed once) under the given metrics. It returns the zero durStats when
// the floor failed.
func crashFloor(ctx context.Context, b *bench, order []int, medianMetric, tailMetric string, errs *[]error) durStats {
	ds, err := measureCrashFloor(ctx, order)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("floor, %d apps: %w", appCount(order), err))
		return durStats{}
	}
	s := summarize(ds)
	tail := s.P99
	if appCount(order) > 1 {
		tail = s.Max
	}
	b.rep.set(scenarioCrash, medianMetric, "ms", "opm", ms(s.Median))
	b.rep.set(scenarioCrash, tailMetric, "ms", "opm", ms(tail))
	return s
}

// appCount is the number of apps order kills: 1 + its largest index.
func appCount(order []int) int {
	n := 0
	for _, i := range order {
		n = max(n, i+1)
	}
	return n
}

// measureCrash starts the apps order names under t and kills them in
// order, timing each restart.
func measureCrash(ctx context.Context, b *bench, t tool, order []int) (ds []time.Duration, err error) {
	err = b.withSandbox(t, func(sb *sandbox) error {
		if err := startApps(ctx, t, sb, appCount(order)); err != nil {
			return err
		}
		daemon, err := daemonPID(t, sb)
		if err != nil {
			return err
		}
		ds, err = crashKills(ctx, sb, daemon, order)
		return err
	})
	return ds, err
}

// measureCrashFloor times a bare supervisor of the apps order names.
func measureCrashFloor(ctx context.Context, order []int) (ds []time.Duration, err error) {
	r, err := startBare(ctx, appCount(order))
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, r.stop()) }()
	if _, err := r.waitApps(ctx, appCount(order)); err != nil {
		return nil, err
	}
	return crashKills(ctx, r.sb, r.pid, order)
}

// crashKills kills the apps of sb in order, each time timing the restart
// by daemon. An app is killed once it has run crashAge (the first time)
// or crashUptime since its restart was seen.
func crashKills(ctx context.Context, sb *sandbox, daemon int, order []int) ([]time.Duration, error) {
	c, err := scanApps(sb.w)
	if err != nil {
		return nil, err
	}
	pids := map[int]int{}       // app → its live process
	restarted := map[int]bool{} // apps killed once already
	for _, i := range order {
		if len(c[i]) != 1 {
			return nil, fmt.Errorf("app %d runs %d times", i, len(c[i]))
		}
		pids[i] = c[i][0]
	}
	var ds []time.Duration
	for k, i := range order {
		pid := pids[i]
		if !restarted[i] {
			if err := waitAge(ctx, pid, crashAge); err != nil {
				return ds, err
			}
		}
		next, d, err := killAndTime(ctx, sb, daemon, i, pid)
		if err != nil {
			return ds, fmt.Errorf("kill %d (app %d): %w", k+1, i, err)
		}
		ds = append(ds, d)
		pids[i], restarted[i] = next, true
		if err := pause(ctx, crashUptime); err != nil {
			return ds, err
		}
	}
	return ds, nil
}

// killAndTime SIGKILLs pid, app i's process, and polls until the daemon
// has started the app again; it returns the new process and the time
// from the kill.
func killAndTime(ctx context.Context, sb *sandbox, daemon, i, pid int) (int, time.Duration, error) {
	w, err := newAppWatcher(sb.w, i, daemon)
	if err != nil {
		return 0, 0, err
	}
	defer w.close()
	start := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return 0, 0, fmt.Errorf("kill app: %w", err)
	}
	var next int
	err = poll(ctx, 10*time.Second, crashPoll, func() (bool, error) {
		var err error
		next, err = w.find(pid)
		return next != 0, err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("wait for the restarted app: %w", err)
	}
	return next, time.Since(start), nil
}

// waitAge returns once process pid has run for age (from its start time
// in /proc, to the 10 ms tick).
func waitAge(ctx context.Context, pid int, age time.Duration) error {
	st, err := proc.ReadStat(pid)
	if err != nil {
		return fmt.Errorf("app process %d: %w", pid, err)
	}
	now := time.Now()
	started := proc.Started(st.Start, now, now.Add(-age))
	if left := age - now.Sub(started); left > 0 {
		return pause(ctx, left)
	}
	return nil
}
