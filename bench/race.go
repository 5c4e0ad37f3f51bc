package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
)

// The restore race: N saved apps, the daemon stopped, the runtime
// directory emptied, then K restore commands launched at once (as two
// boot scripts or a user and a script might). Afterwards /proc tells how
// many daemons serve the home, which apps run twice and which not at all;
// a command that does not finish within raceTimeout counts as hung.

const scenarioRace = "race"

const (
	raceTimeout = 30 * time.Second
	// raceQuiet is how long the process census must stay unchanged before
	// it is taken as final.
	raceQuiet = time.Second
)

// race is the outcome of one round.
type race struct {
	Tool       string `json:"tool"`
	Round      int    `json:"round"`
	Restorers  int    `json:"restorers"`
	Apps       int    `json:"apps"`
	Daemons    int    `json:"daemons"`
	Running    int    `json:"running"`
	Missing    int    `json:"missing"`
	Duplicates int    `json:"duplicates"`
	Hung       int    `json:"hung"`
	Failed     int    `json:"failed"`
	// LeftAfterStop counts the daemons still running after the tool's
	// stop command (opm daemon stop, pm2 kill) that followed the race.
	LeftAfterStop int     `json:"left_after_stop"`
	Seconds       float64 `json:"seconds"`
}

func runRace(ctx context.Context, b *bench) error {
	var errs []error
	for _, t := range b.tools() {
		var sum race
		rounds := 0
		for round := 1; round <= b.p.RaceRounds; round++ {
			r, err := raceRound(ctx, b, t, b.p.RaceN, b.p.RaceK)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s round %d: %w", t.Name(), round, err))
				continue
			}
			r.Round = round
			rounds++
			b.rep.Races = append(b.rep.Races, r)
			if r.Daemons != 1 {
				sum.Daemons++
			}
			sum.Missing += r.Missing
			sum.Duplicates += r.Duplicates
			sum.Hung += r.Hung
		}
		if rounds == 0 {
			continue
		}
		name := t.Name()
		scen := fmt.Sprintf("%s ×%d, %d apps", scenarioRace, b.p.RaceK, b.p.RaceN)
		b.rep.set(scen, "rounds with daemons ≠ 1", "rounds", name, float64(sum.Daemons)).target("0", atMost(0)).noRatio = true
		b.rep.set(scen, "duplicate apps", "processes", name, float64(sum.Duplicates)).target("0", atMost(0)).noRatio = true
		b.rep.set(scen, "missing apps", "apps", name, float64(sum.Missing)).target("0", atMost(0)).noRatio = true
		b.rep.set(scen, "hung commands", "commands", name, float64(sum.Hung)).target("0", atMost(0)).noRatio = true
	}
	return errors.Join(errs...)
}

func raceRound(ctx context.Context, b *bench, t tool, n, k int) (r race, err error) {
	r = race{Tool: t.Name(), Restorers: k, Apps: n}
	err = b.withSandbox(t, func(sb *sandbox) error {
		if _, err := prepareRestore(ctx, t, sb, n); err != nil {
			return err
		}
		start := time.Now()
		results := restoreAtOnce(ctx, t, sb, k)
		r.Seconds = time.Since(start).Seconds()
		for _, res := range results {
			switch {
			case res.TimedOut:
				r.Hung++
			case res.Err != nil:
				r.Failed++
			}
		}
		logf("%s race: %d restores returned after %.1f s (%d hung, %d failed)", t.Name(), k, r.Seconds, r.Hung, r.Failed)
		c, d, err := settledCensus(ctx, t, sb)
		if err != nil {
			return err
		}
		r.Daemons = d
		r.Running, r.Missing, r.Duplicates = c.tally(n)
		r.LeftAfterStop, err = leftAfterStop(ctx, t, sb)
		return err
	})
	return r, err
}

// restoreAtOnce starts k restore commands back to back and waits for all.
func restoreAtOnce(ctx context.Context, t tool, sb *sandbox, k int) []cmdResult {
	results := make([]cmdResult, k)
	cmds := make([]*exec.Cmd, k)
	outs := make([]*outFiles, k)
	for i := range k {
		results[i].Argv = t.restoreArgv()
		cmds[i], outs[i], results[i].Err = sb.command(ctx, raceTimeout, results[i].Argv)
		if results[i].Err == nil {
			defer outs[i].close()
		}
	}
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		if cmd == nil {
			continue
		}
		start := time.Now()
		if results[i].Err = cmd.Start(); results[i].Err != nil {
			continue
		}
		wg.Go(func() {
			results[i].Err = cmd.Wait()
			results[i].Dur = time.Since(start)
			results[i].TimedOut = outs[i].timedOut()
		})
	}
	wg.Wait()
	return results
}

// settledCensus polls /proc until the app processes and daemons stop
// changing for raceQuiet, and returns them.
func settledCensus(ctx context.Context, t tool, sb *sandbox) (appCensus, int, error) {
	var (
		c       appCensus
		d       []int
		last    string
		stillAt time.Time
	)
	err := poll(ctx, 30*time.Second, 50*time.Millisecond, func() (bool, error) {
		var err error
		if c, err = scanApps(sb.w); err != nil {
			return false, err
		}
		if d, err = daemons(t, sb); err != nil {
			return false, err
		}
		key := fmt.Sprint(c, d)
		if key != last {
			last, stillAt = key, time.Now()
		}
		return time.Since(stillAt) >= raceQuiet, nil
	})
	if errors.Is(err, errDeadline) {
		err = nil // still changing after 30 s: report what is there
	}
	return c, len(d), err
}

// leftAfterStop runs the tool's stop command and counts the daemons that
// survive it.
func leftAfterStop(ctx context.Context, t tool, sb *sandbox) (int, error) {
	sctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	if err := t.shutdown(sctx, sb); err != nil {
		logf("%s: stop after the race: %v", t.Name(), err)
	}
	var d []int
	err := poll(ctx, 5*time.Second, 20*time.Millisecond, func() (bool, error) {
		var err error
		d, err = daemons(t, sb)
		return len(d) == 0, err
	})
	if errors.Is(err, errDeadline) {
		err = nil
	}
	return len(d), err
}

// raceColumns are the titles of the restore race table's columns, for
// the console (printRaces) and the README (writeRaces).
var raceColumns = []any{"tool", "round", "restorers", "apps", "daemons", "running", "missing", "duplicates", "hung", "failed", "s", "daemons left after stop"}

// cells returns the round's row of the restore race table, in
// raceColumns' order.
func (r race) cells() []any {
	return []any{r.Tool, r.Round, r.Restorers, r.Apps, r.Daemons, r.Running, r.Missing, r.Duplicates, r.Hung, r.Failed, fmtNum(r.Seconds), r.LeftAfterStop}
}

func printRaces(w io.Writer, races []race) {
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(table.StyleLight)
	t.Style().Format.Header = text.FormatDefault
	t.SetTitle("restore race: concurrent restores right after the daemon stopped")
	t.AppendHeader(raceColumns)
	for _, r := range races {
		t.AppendRow(r.cells())
	}
	t.Render()
}
