package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"
)

// Scenario 5: the wall time of the JSON listing (`opm list --json`,
// `pm2 jlist`) with N apps, from exec to exit, as a script calling it
// sees it. Each listing is checked to hold all N apps.

const scenarioCLI = "5 CLI list"

func runCLI(ctx context.Context, b *bench) error {
	var errs []error
	if err := measureExecFloor(ctx, b); err != nil {
		errs = append(errs, err)
	}
	for _, n := range b.p.CLIN {
		for _, t := range b.tools() {
			ds, err := measureList(ctx, b, t, n, b.p.CLIRuns)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s, %d apps: %w", t.Name(), n, err))
				continue
			}
			s := summarize(ds)
			r := b.rep.set(scenarioCLI, fmt.Sprintf("%d apps, median of %d", n, s.N), "ms", t.Name(), ms(s.Median))
			switch n {
			case 100:
				r.target("≤ 20", atMost(20))
			case 1000:
				r.target("≤ 50", atMost(50))
			}
			b.rep.set(scenarioCLI, fmt.Sprintf("%d apps, max", n), "ms", t.Name(), ms(s.Max))
		}
	}
	return errors.Join(errs...)
}

func measureList(ctx context.Context, b *bench, t tool, n, runs int) (ds []time.Duration, err error) {
	err = b.withSandbox(t, func(sb *sandbox) error {
		if err := startApps(ctx, t, sb, n); err != nil {
			return err
		}
		for range runs {
			r := sb.run(ctx, cmdTimeout, t.listArgv()...)
			if err := r.error(); err != nil {
				return err
			}
			apps, err := t.parseList(r.Stdout)
			if err != nil {
				return err
			}
			if len(apps) != n {
				return fmt.Errorf("listing shows %d apps, want %d", len(apps), n)
			}
			ds = append(ds, r.Dur)
		}
		return nil
	})
	return ds, err
}

// measureExecFloor times, like the listings, two commands that do not talk
// to a daemon: true(1), the cost of any exec on this machine, and
// `opm version`, the opm binary's own start-up.
func measureExecFloor(ctx context.Context, b *bench) error {
	sb, err := newSandbox("OPM_HOME", "OPM_RUNTIME_DIR")
	if err != nil {
		return err
	}
	defer func() { sb.killAll(10 * time.Second); sb.remove() }()
	truePath, err := exec.LookPath("true")
	if err != nil {
		return err
	}
	for _, c := range []struct {
		metric string
		argv   []string
	}{
		{"floor: exec true(1)", []string{truePath}},
		{"opm version (start-up, no daemon)", []string{b.opm.bin, "version"}},
	} {
		var ds []time.Duration
		for range b.p.CLIRuns {
			r := sb.run(ctx, cmdTimeout, c.argv...)
			if err := r.error(); err != nil {
				return err
			}
			ds = append(ds, r.Dur)
		}
		b.rep.set(scenarioCLI, fmt.Sprintf("%s, median of %d", c.metric, len(ds)), "ms", "opm", ms(summarize(ds).Median))
	}
	return nil
}
