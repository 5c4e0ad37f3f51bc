package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Scenario 5: the wall time of the JSON listing (`opm list --json`,
// `pm2 jlist`) with N apps, from exec to exit, as a script calling it
// sees it. Each listing is checked to hold all N apps.

const scenarioCLI = "5 CLI list"

func runCLI(ctx context.Context, b *bench) error {
	var errs []error
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
			apps, err := parseList(t, r.Stdout)
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

// parseList decodes the output of t.listArgv.
func parseList(t tool, b []byte) ([]listed, error) {
	if _, ok := t.(*pm2Tool); ok {
		return parsePM2List(b)
	}
	return parseOpmList(b)
}
