package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"opm/daemon/proc"
)

// Scenario 6: the daemon's RSS as apps are added, N = 10 ... 1000, read
// after each step once every app is online; the per-app cost is the
// slope between the first and the last step.

const scenarioScale = "6 scale"

func runScale(ctx context.Context, b *bench) error {
	steps := slices.Clone([]int(b.p.ScaleN))
	slices.Sort(steps)
	steps = slices.Compact(steps)
	var errs []error
	for _, t := range b.tools() {
		rss, threads, err := measureScale(ctx, b, t, steps)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.Name(), err))
			continue
		}
		for i, n := range steps {
			b.rep.set(scenarioScale, fmt.Sprintf("RSS at %d apps", n), "MB", t.Name(), mb(rss[i]))
			b.rep.set(scenarioScale, fmt.Sprintf("threads at %d apps", n), "count", t.Name(), float64(threads[i])).noRatio = true
		}
		if len(steps) > 1 {
			first, last := 0, len(steps)-1
			slope := (float64(rss[last]) - float64(rss[first])) / float64(steps[last]-steps[first]) / 1024
			b.rep.set(scenarioScale, fmt.Sprintf("RSS per app, %d→%d", steps[first], steps[last]), "KB", t.Name(), slope)
		}
	}
	return errors.Join(errs...)
}

func measureScale(ctx context.Context, b *bench, t tool, steps []int) (rss []uint64, threads []int, err error) {
	err = b.withSandbox(t, func(sb *sandbox) error {
		have := 0
		for _, n := range steps {
			if err := t.start(ctx, sb, have, n); err != nil {
				return err
			}
			have = n
			if err := waitOnline(ctx, t, sb, n, onlineTimeout(n)); err != nil {
				return err
			}
			pid, err := daemonPID(t, sb)
			if err != nil {
				return err
			}
			u, err := proc.ReadUsage(pid)
			if err != nil {
				return err
			}
			rss, threads = append(rss, u.RSS), append(threads, u.Threads)
		}
		return nil
	})
	return rss, threads, err
}
