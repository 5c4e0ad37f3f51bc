// Command bench measures opm, and PM2 side by side with it, on the
// scenarios of issue 5: the restore flag's fast check, restore, crash to
// restart, an idle daemon, the CLI's listing, and memory at scale; and
// log throughput (issue 11). It prints a table and writes the same
// figures to bench/results.json.
//
//	go run ./bench [--quick] [--pm2] [--opm bin/opm]
//
// Every scenario runs in its own temporary OPM_HOME/OPM_RUNTIME_DIR (or
// PM2_HOME) and kills every process it started before the next begins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case floorArg:
			bareSupervise(os.Args[2:])
		case logWriterArg:
			runLogWriter(os.Args[2:])
		case logRelayArg:
			runLogRelay(os.Args[2:])
		case readmeArg:
			runReadme(os.Args[2:])
		}
	}
	p, err := parseParams(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := run(ctx, p)
	rep.print(os.Stdout)
	if err := rep.writeJSON(p.Out); err != nil {
		fmt.Fprintln(os.Stderr, "bench: write results:", err)
		os.Exit(1)
	}
	fmt.Printf("\nresults written to %s\n", p.Out)
	if len(rep.Errors) > 0 {
		os.Exit(1)
	}
}

// bench is one run: its parameters, the tools under test and the report.
type bench struct {
	p   params
	rep *report
	// opm is nil when the binary is missing or broken; pm2 when --pm2 is
	// off or PM2 cannot be installed.
	opm *opmTool
	pm2 *pm2Tool
	// supd is go-supervisord, nil when --supervisord=false or it cannot
	// be built; it runs in the scenarios of supervisordScenarios.
	supd *supervisordTool
	// scenario is the id of the scenario running.
	scenario string
}

// scenario is one measurement; run records rows in b.rep.
type scenario struct {
	id, name  string
	needsTool bool
	run       func(ctx context.Context, b *bench) error
}

var scenarios = []scenario{
	{"1", "flag check", false, runFlagCheck},
	{"2", "restore", true, runRestore},
	{"3", "crash→restart", true, runCrash},
	{"4", "idle daemon", true, runIdle},
	{"5", "CLI list", true, runCLI},
	{"6", "scale", true, runScale},
	{"race", "restore race", true, runRace},
	{"logs", "log throughput", true, runLogs},
	{"flash", "flash bytes", true, runFlash},
}

func run(ctx context.Context, p params) *report {
	rep := &report{Machine: describeMachine(), Commit: gitCommit(), Started: time.Now().UTC(), Quick: p.Quick, Params: p, Load: map[string]float64{}}
	b := &bench{p: p, rep: rep}
	b.setupOPM(ctx)
	if p.PM2 {
		t, version, err := installPM2(ctx, p.PM2Prefix)
		if err != nil {
			rep.notef("PM2 not measured, opm runs alone: %v", err)
		} else {
			b.pm2, rep.PM2 = t, version
		}
	}
	b.setupSupervisord(ctx)
	for _, s := range scenarios {
		if !p.runs(s.id) || ctx.Err() != nil {
			continue
		}
		if s.needsTool && len(b.tools()) == 0 {
			continue // opm's absence is already reported
		}
		b.scenario = s.id
		fmt.Fprintf(os.Stderr, "bench: scenario %s: %s\n", s.id, s.name)
		rep.Load[s.id] = loadAvg()
		start := time.Now()
		if err := s.run(ctx, b); err != nil {
			rep.errorf("scenario %s (%s): %v", s.id, s.name, err)
		}
		fmt.Fprintf(os.Stderr, "bench: scenario %s done in %.1f s\n", s.id, time.Since(start).Seconds())
	}
	if ctx.Err() != nil {
		rep.errorf("interrupted: %v", ctx.Err())
	}
	rep.finish()
	return rep
}

// setupOPM checks the opm binary with `opm version`, in a sandbox.
func (b *bench) setupOPM(ctx context.Context) {
	bin, err := filepath.Abs(b.p.OPMBin)
	if err != nil {
		b.rep.errorf("opm binary %s: %v", b.p.OPMBin, err)
		return
	}
	o := &opmTool{bin: bin, jobs: b.p.Jobs, restartDelay: b.p.RestartDelay}
	err = b.withSandbox(o, func(sb *sandbox) error {
		r := sb.run(ctx, 10*time.Second, bin, "version")
		b.rep.OPM = strings.TrimSpace(string(r.Stdout))
		return r.error()
	})
	if err != nil {
		b.rep.OPM = "unavailable"
		b.rep.errorf("opm not measured: %s does not work (build it with 'go build -o bin/opm ./cmd/opm'): %v", b.p.OPMBin, err)
		return
	}
	b.opm = o
}

// tools returns the tools under test: opm, then PM2 when it runs, then
// go-supervisord when it runs and the scenario running is one of
// supervisordScenarios.
func (b *bench) tools() []tool {
	var ts []tool
	if b.opm != nil {
		ts = append(ts, b.opm)
	}
	if b.pm2 != nil {
		ts = append(ts, b.pm2)
	}
	if b.supd != nil && supervisordScenarios[b.scenario] {
		ts = append(ts, b.supd)
	}
	return ts
}

// withSandbox runs fn in a fresh sandbox of t and always cleans it up.
// Cleanup problems do not void fn's measurements; they are reported:
// as errors for opm (its shutdown must leave nothing behind), as notes
// for PM2.
func (b *bench) withSandbox(t tool, fn func(sb *sandbox) error) error {
	sb, err := t.newSandbox()
	if err != nil {
		return err
	}
	defer func() {
		if err := closeSandbox(t, sb); err != nil {
			if t.Name() == "opm" {
				b.rep.errorf("clean up opm sandbox: %v", err)
			} else {
				b.rep.notef("clean up %s sandbox: %v", t.Name(), err)
			}
		}
	}()
	return fn(sb)
}

// logf prints progress to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
