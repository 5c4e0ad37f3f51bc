package main

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// Scenario 3: one app, killed with SIGKILL again and again; each time the
// clock runs from the kill until /proc shows the app's new process (its
// argv, i.e. after exec). Back-off is at its minimum (opm: restart_delay
// in config.toml; PM2: restart_delay 0, its default). The app lives
// crashUptime between a restart and the next kill.

const scenarioCrash = "3 crash→restart"

const (
	// crashPoll is the /proc poll interval: the timing resolution.
	crashPoll = 100 * time.Microsecond
	// crashUptime is how long each restarted app runs before the next kill.
	crashUptime = 50 * time.Millisecond
)

func runCrash(ctx context.Context, b *bench) error {
	var errs []error
	if ds, err := measureCrashFloor(ctx, b.p.CrashN); err != nil {
		errs = append(errs, fmt.Errorf("floor: %w", err))
	} else {
		s := summarize(ds)
		b.rep.set(scenarioCrash, "floor (bare Go supervisor): median", "ms", "opm", ms(s.Median))
		b.rep.set(scenarioCrash, "floor (bare Go supervisor): p99", "ms", "opm", ms(s.P99))
	}
	for _, t := range b.tools() {
		ds, err := measureCrash(ctx, b, t, b.p.CrashN)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.Name(), err))
			continue
		}
		s := summarize(ds)
		b.rep.set(scenarioCrash, fmt.Sprintf("median of %d", s.N), "ms", t.Name(), ms(s.Median)).target("≤ 2", atMost(2))
		b.rep.set(scenarioCrash, "p99", "ms", t.Name(), ms(s.P99)).target("≤ 10", atMost(10))
	}
	return errors.Join(errs...)
}

func measureCrash(ctx context.Context, b *bench, t tool, kills int) (ds []time.Duration, err error) {
	err = b.withSandbox(t, func(sb *sandbox) error {
		if err := startApps(ctx, t, sb, 1); err != nil {
			return err
		}
		daemon, err := daemonPID(t, sb)
		if err != nil {
			return err
		}
		ds, err = crashLoop(ctx, sb, daemon, kills)
		return err
	})
	return ds, err
}

// measureCrashFloor times a bare supervisor of one app.
func measureCrashFloor(ctx context.Context, kills int) (ds []time.Duration, err error) {
	r, err := startBare(ctx, 1)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, r.stop()) }()
	if _, err := r.waitApps(ctx, 1); err != nil {
		return nil, err
	}
	return crashLoop(ctx, r.sb, r.pid, kills)
}

// crashLoop kills app 0 of sb kills times and times each restart by
// daemon.
func crashLoop(ctx context.Context, sb *sandbox, daemon, kills int) ([]time.Duration, error) {
	c, err := scanApps(sb.w)
	if err != nil {
		return nil, err
	}
	if len(c[0]) != 1 {
		return nil, fmt.Errorf("app 0 runs %d times", len(c[0]))
	}
	pid := c[0][0]
	w, err := newAppWatcher(sb.w, 0, daemon)
	if err != nil {
		return nil, err
	}
	defer w.close()
	var ds []time.Duration
	for i := range kills {
		start := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return ds, fmt.Errorf("kill app: %w", err)
		}
		var next int
		err := poll(ctx, 10*time.Second, crashPoll, func() (bool, error) {
			var err error
			next, err = w.find(pid)
			return next != 0, err
		})
		if err != nil {
			return ds, fmt.Errorf("kill %d: wait for the restarted app: %w", i+1, err)
		}
		ds = append(ds, time.Since(start))
		pid = next
		if err := pause(ctx, crashUptime); err != nil {
			return ds, err
		}
	}
	return ds, nil
}
